"""The batch runner's logic on in-memory fakes of its store, ledger and engine: no service, each
test well under a second. The same paths on the real services are in test_runner.py."""

from __future__ import annotations

import pytest

from db.batches import ClaimedRecording
from pronscore.storage import StorageError
from tests.worker.fakes import Night, TextEngine
from worker.runner import ClaimDeferred, run_batch


def test_a_batch_is_scored_chunk_by_chunk_and_written_once() -> None:
    night = Night.of(10)
    outcome = run_batch(night.batch_id, night.runtime)
    assert (outcome.claimed, outcome.scored, outcome.failed) == (True, 10, {})
    assert [len(call) for call in night.engine.calls] == [4, 4, 2], "chunks of at most 4 s of audio"
    batch = night.ledger.batches[night.batch_id]
    assert batch.done and batch.progress == (3, 3)
    assert not run_batch(night.batch_id, night.runtime).claimed, "a second delivery does nothing"


def test_unreadable_or_missing_audio_fails_alone() -> None:
    night = Night.of(5, missing=[2])
    night.store.objects["s3://bucket/r4"] = b"RIFF not audio at all"
    outcome = run_batch(night.batch_id, night.runtime)
    assert outcome.scored == 3
    assert night.failures() == {2: "object_missing", 4: "audio_unreadable"}


def test_an_exhausted_batch_fails_attempts_exhausted_without_scoring() -> None:
    night = Night.of(3)
    batch = night.ledger.batches[night.batch_id]
    batch.recordings = {rid: ClaimedRecording(r.id, r.storage_uri, r.reference_text, 3, 1.0)
                        for rid, r in batch.recordings.items()}  # fmt: skip
    outcome = run_batch(night.batch_id, night.runtime)
    assert outcome.failed == {"attempts_exhausted": 3}
    assert night.engine.calls == []


def test_a_lease_lost_mid_batch_writes_nothing_and_stops_early() -> None:
    night = Night.of(10)
    night.engine.on_score = lambda: night.ledger.take_over(night.batch_id, "elsewhere:2")
    outcome = run_batch(night.batch_id, night.runtime)
    assert not outcome.claimed
    batch = night.ledger.batches[night.batch_id]
    assert (batch.done, batch.results, batch.holder) == (False, {}, "elsewhere:2")
    assert len(night.engine.calls) == 1, "no chunk scored after the loss was seen"


def test_a_store_outage_gives_the_batch_back_uncharged() -> None:
    night = Night.of(6)
    night.store.down = True
    with pytest.raises(StorageError):
        run_batch(night.batch_id, night.runtime)
    assert night.ledger.batches[night.batch_id].holder is None, "given back for the retry"
    assert set(night.ledger.attempts(night.batch_id).values()) == {0}
    night.store.down = False
    assert run_batch(night.batch_id, night.runtime).scored == 6, "the retry finishes it"


def test_an_error_of_the_workers_own_gives_the_batch_back_charged() -> None:
    night = Night.of(2)

    def bug() -> None:
        raise ValueError("a bug in writing")

    night.ledger.completing = bug
    for attempt in (1, 2, 3):
        with pytest.raises(ValueError, match="a bug"):
            run_batch(night.batch_id, night.runtime)
        assert set(night.ledger.attempts(night.batch_id).values()) == {attempt}
    night.ledger.completing = None
    assert run_batch(night.batch_id, night.runtime).failed == {"attempts_exhausted": 2}, "it ends"


def test_a_recording_the_engine_cannot_score_fails_alone_uncharged() -> None:
    def broken(texts: list[str]) -> BaseException | None:
        return RuntimeError("The size of tensor a (6) must match the size of tensor b (7)") if "r23" in texts else None

    night = Night.of(40, TextEngine(broken), chunk_audio_seconds=1000.0)
    outcome = run_batch(night.batch_id, night.runtime)
    assert (outcome.claimed, outcome.scored, outcome.failed) == (True, 39, {"engine_error": 1})
    result = night.ledger.batches[night.batch_id].results[23]
    assert result.failure.detail == "RuntimeError: The size of tensor a (6) must match the size of tensor b (7)"
    assert set(night.ledger.attempts(night.batch_id).values()) == {0}, "no attempt charged"
    assert len(night.engine.calls) <= 1 + 2 * 6, "halving: a few calls, not one per recording"


def test_an_outage_inside_the_engine_is_not_split_but_given_back_uncharged() -> None:
    night = Night.of(8, TextEngine(lambda texts: ConnectionError("connection refused")))
    with pytest.raises(ConnectionError):
        run_batch(night.batch_id, night.runtime)
    assert len(night.engine.calls) == 1
    assert night.ledger.batches[night.batch_id].holder is None
    assert set(night.ledger.attempts(night.batch_id).values()) == {0}


def test_a_give_back_the_database_missed_is_made_first_when_it_answers() -> None:
    night = Night.of(4)

    def database_goes_away() -> None:
        night.ledger.away = ConnectionError("connection refused")

    night.engine.on_score = database_goes_away
    with pytest.raises(ConnectionError):
        run_batch(night.batch_id, night.runtime)
    assert len(night.runtime.owed) == 1, "neither written nor given back: owed"
    assert night.ledger.batches[night.batch_id].holder == "here:1"

    night.engine.on_score = None
    night.ledger.away = None
    night.runtime.liveness.beat()
    assert len(night.runtime.owed) == 0
    assert night.ledger.beats == ["here:1"]
    assert night.ledger.batches[night.batch_id].holder is None, "given back on the first beat that answered"
    assert set(night.ledger.attempts(night.batch_id).values()) == {0}


def test_owed_batches_are_given_back_before_a_new_claim() -> None:
    night = Night.of(2)
    night.ledger.add(2, [ClaimedRecording(9, "s3://bucket/r1", "r9", 0, 1.0)])
    night.ledger.take_over(2, "here:1")
    night.runtime.owed.add(2, crashed=False)
    assert run_batch(night.batch_id, night.runtime).scored == 2
    assert night.ledger.batches[2].holder is None and len(night.runtime.owed) == 0


def test_a_claim_whose_last_holder_may_be_alive_is_put_off_by_a_beat() -> None:
    night = Night.of(2, lease_seconds=30)
    night.ledger.undecided.add(night.batch_id)
    with pytest.raises(ClaimDeferred) as deferred:
        run_batch(night.batch_id, night.runtime)
    assert deferred.value.seconds == 10.0
    assert night.engine.calls == []
