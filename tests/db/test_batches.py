"""The batch lifecycle on a real database, without a worker: form, claim, renew, complete,
release, expire."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.batches import (
    ClaimVerdict,
    beat,
    claim_batch,
    complete_batch,
    create_batches,
    expire_leases,
    forget_silent_workers,
    record_progress,
    release_batch,
    renew_lease,
    requeue_failed,
    start_recordings,
)
from db.models import Assessment, Batch, BatchStatus, Recording, RecordingStatus, Run
from db.runs import get_or_create_run
from db.upserts import upsert_model_version
from scoring.failures import FailureReason, RecordingFailure
from tests.factories import add_recording, scored, unparseable

WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)


def _batch(session: Session, durations: dict[str, float], budget: float = 100.0) -> tuple[int, list[int], list[int]]:
    run_id = get_or_create_run(session, "night")
    ids = {
        name: add_recording(session, name, "kim", "4a", WHEN, duration=seconds) for name, seconds in durations.items()
    }
    return (
        run_id,
        create_batches(session, run_id, {ids[n]: s for n, s in durations.items()}, budget),
        list(ids.values()),
    )


def _lease_left(session: Session, batch_id: int) -> float:
    return session.execute(
        select(func.extract("epoch", Batch.lease_expires_at - func.now())).where(Batch.id == batch_id)
    ).scalar_one()


def test_batches_are_cut_by_audio_seconds_shortest_first(session: Session) -> None:
    _, batches, _ = _batch(session, {"a": 4.0, "b": 1.0, "c": 3.0, "d": 9.0}, budget=5.0)
    members = [
        sorted(session.execute(select(Recording.source_id).where(Recording.batch_id == b)).scalars()) for b in batches
    ]
    assert members == [["b", "c"], ["a"], ["d"]]
    assert [session.get(Batch, b).audio_seconds for b in batches] == [4.0, 4.0, 9.0]


def test_one_owner_at_a_time_and_the_holder_may_reclaim(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    assert claim_batch(session, batch_id, "host:1", lease_seconds=60) is ClaimVerdict.taken
    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is ClaimVerdict.refused
    assert claim_batch(session, batch_id, "host:1", lease_seconds=60) is ClaimVerdict.taken
    assert session.get(Batch, batch_id).attempts == 2


def test_renewal_extends_the_lease_of_its_holder_only(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=10)
    assert _lease_left(session, batch_id) <= 10
    assert renew_lease(session, batch_id, "host:1", lease_seconds=600)
    assert _lease_left(session, batch_id) > 590
    assert not renew_lease(session, batch_id, "host:2", lease_seconds=600)


def test_an_expired_lease_goes_back_to_queued_and_renewal_then_fails(session: Session) -> None:
    _, (batch_id, other), _ = _batch(session, {"a": 2.0, "b": 2.0}, budget=2.0)
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    claim_batch(session, other, "host:2", lease_seconds=60)
    session.execute(
        text("UPDATE batches SET lease_expires_at = now() - interval '1 second' WHERE id = :id"), {"id": batch_id}
    )
    assert expire_leases(session) == [batch_id]
    assert session.get(Batch, batch_id).status == BatchStatus.queued
    assert session.get(Batch, other).status == BatchStatus.running
    assert not renew_lease(session, batch_id, "host:1", lease_seconds=60)


def test_release_gives_the_batch_back_only_from_its_holder(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    release_batch(session, batch_id, "host:2")
    assert session.get(Batch, batch_id).status == BatchStatus.running
    release_batch(session, batch_id, "host:1")
    assert session.get(Batch, batch_id).status == BatchStatus.queued


def test_complete_writes_results_statuses_and_run_bookkeeping(session: Session) -> None:
    run_id, (batch_id,), (good, bad, gone) = _batch(session, {"good": 2.0, "bad": 2.0, "gone": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    assert [r.id for r in start_recordings(session, batch_id)] == [good, bad, gone]
    version = upsert_model_version(session, "model/joint-v1")
    results = {
        good: scored((7, 8, 7, 7)),
        bad: unparseable(),
        gone: RecordingFailure(FailureReason.object_missing, "s3://bucket/gone does not exist"),
    }
    outcome = complete_batch(session, batch_id, "host:1", version, results)
    assert outcome is not None
    assert (outcome.scored, outcome.failed) == (1, {"unparseable_output": 1, "object_missing": 1})
    states = dict(session.execute(select(Recording.source_id, Recording.failure_reason)).all())
    assert states == {"good": None, "bad": "unparseable_output", "gone": "object_missing"}
    assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == 2
    batch, run = session.get(Batch, batch_id), session.get(Run, run_id)
    assert (batch.status, batch.lease_owner) == (BatchStatus.done, None)
    assert run.finished_at is not None and run.model_version_id == version


def test_complete_without_the_lease_writes_nothing(session: Session) -> None:
    _, (batch_id,), (rid,) = _batch(session, {"a": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    start_recordings(session, batch_id)
    version = upsert_model_version(session, "model/joint-v1")
    assert complete_batch(session, batch_id, "host:2", version, {rid: scored((7, 8, 7, 7))}) is None
    assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == 0
    assert session.get(Recording, rid).status == RecordingStatus.scoring
    assert session.get(Batch, batch_id).status == BatchStatus.running


def _attempts(session: Session) -> set[int]:
    return set(session.execute(select(Recording.attempts)).scalars())


def _expire(session: Session, batch_id: int) -> None:
    session.execute(
        text("UPDATE batches SET lease_expires_at = now() - interval '1 second' WHERE id = :id"), {"id": batch_id}
    )


def _last_seen(session: Session, worker: str, seconds_ago: float, since_ago: float | None = None) -> None:
    """Set when `worker` last beat, and since when it had beaten without a break."""
    session.execute(
        text(
            "UPDATE workers SET seen_at = now() - make_interval(secs => :ago), "
            "connected_since = now() - make_interval(secs => :since) WHERE name = :name"
        ),
        {"name": worker, "ago": seconds_ago, "since": max(since_ago or seconds_ago, seconds_ago)},
    )


TAKEN = ClaimVerdict.taken


def test_only_a_crash_costs_an_attempt(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0, "b": 2.0})
    for _ in range(5):  # an outage: the holder gives the batch back and takes it again, over and over
        assert claim_batch(session, batch_id, "host:1", lease_seconds=60) is TAKEN
        start_recordings(session, batch_id)
        assert release_batch(session, batch_id, "host:1")
    assert _attempts(session) == {0}
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    _expire(session, batch_id)
    assert claim_batch(session, batch_id, "host:1", lease_seconds=60) is TAKEN, "its own retry after a long outage"
    assert _attempts(session) == {0}

    _expire(session, batch_id)
    assert expire_leases(session) == [batch_id]
    beat(session, "host:2", lease_seconds=60)
    _last_seen(session, "host:1", seconds_ago=100)  # host:1 died holding it ...
    _last_seen(session, "host:2", seconds_ago=0, since_ago=200)  # ... while host:2 reached the database
    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is TAKEN
    assert _attempts(session) == {1}
    _expire(session, batch_id)
    _last_seen(session, "host:2", seconds_ago=100, since_ago=200)
    session.execute(text("UPDATE batches SET lease_owner = 'never-beat:9' WHERE id = :id"), {"id": batch_id})
    beat(session, "host:3", lease_seconds=60)
    _last_seen(session, "host:3", seconds_ago=0, since_ago=300)
    assert claim_batch(session, batch_id, "host:3", lease_seconds=60) is TAKEN, "taken over without a sweep"
    assert _attempts(session) == {2}, "a holder with no liveness row at all counts as silent for ever"
    assert release_batch(session, batch_id, "host:3", crashed=True), "an error of the worker's own"
    assert _attempts(session) == {3}


def test_a_holder_cut_off_by_a_database_outage_is_not_charged(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0, "b": 2.0})
    beat(session, "host:2", lease_seconds=60)
    assert claim_batch(session, batch_id, "host:1", lease_seconds=60) is TAKEN
    start_recordings(session, batch_id)
    # The database refused everyone for 100 s, longer than the lease; the sweep expired it.
    _expire(session, batch_id)
    assert expire_leases(session) == [batch_id]
    _last_seen(session, "host:1", seconds_ago=100, since_ago=1000)
    _last_seen(session, "host:2", seconds_ago=100, since_ago=1000)

    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is ClaimVerdict.undecided
    batch = session.get(Batch, batch_id)
    session.refresh(batch)
    assert (batch.status, batch.lease_owner) == (BatchStatus.queued, "host:1"), "nothing changed"
    _last_seen(session, "host:2", seconds_ago=0, since_ago=59)
    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is ClaimVerdict.undecided, "not a lease yet"

    beat(session, "host:1", lease_seconds=60)  # host:1 is back: alive
    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is TAKEN
    assert _attempts(session) == {0}
    assert not release_batch(session, batch_id, "host:1"), "host:1's late give-back changes nothing now"


def test_a_holder_still_silent_after_a_lease_of_witnessed_silence_is_dead(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    beat(session, "host:2", lease_seconds=60)
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    _expire(session, batch_id)
    _last_seen(session, "host:1", seconds_ago=100, since_ago=1000)
    _last_seen(session, "host:2", seconds_ago=0, since_ago=61)  # host:2 came back 61 s ago; host:1 never did
    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is TAKEN
    assert _attempts(session) == {1}


def test_a_late_give_back_after_the_sweep_leaves_nothing_to_charge(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    start_recordings(session, batch_id)
    _expire(session, batch_id)
    assert expire_leases(session) == [batch_id]
    assert release_batch(session, batch_id, "host:1"), "given back once the database answers"
    assert session.execute(select(Batch.lease_owner).where(Batch.id == batch_id)).scalar_one() is None
    _last_seen(session, "host:1", seconds_ago=1000)
    beat(session, "host:2", lease_seconds=60)
    _last_seen(session, "host:2", seconds_ago=0, since_ago=5000)
    assert claim_batch(session, batch_id, "host:2", lease_seconds=60) is TAKEN
    assert _attempts(session) == {0}


def test_a_beat_after_missed_beats_starts_a_new_stretch_and_old_rows_are_forgotten(session: Session) -> None:
    beat(session, "host:1", lease_seconds=60)
    _last_seen(session, "host:1", seconds_ago=20, since_ago=500)
    beat(session, "host:1", lease_seconds=60)
    since = "SELECT extract(epoch FROM now() - connected_since) FROM workers WHERE name = 'host:1'"
    assert session.execute(text(since)).scalar_one() == 500, "20 s is less than half a lease: unbroken"
    _last_seen(session, "host:1", seconds_ago=31, since_ago=500)
    beat(session, "host:1", lease_seconds=60)
    assert session.execute(text(since)).scalar_one() == 0, "a beat missed: a new stretch"
    _last_seen(session, "host:1", seconds_ago=86_401)
    assert forget_silent_workers(session) == 1


def test_release_puts_recordings_back_in_the_queue(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    start_recordings(session, batch_id)
    assert not release_batch(session, batch_id, "host:2")
    assert release_batch(session, batch_id, "host:1")
    assert set(session.execute(select(Recording.status)).scalars()) == {RecordingStatus.queued}


def test_progress_is_noted_by_the_holder_only(session: Session) -> None:
    _, (batch_id,), _ = _batch(session, {"a": 2.0})
    claim_batch(session, batch_id, "host:1", lease_seconds=60)
    assert not record_progress(session, batch_id, "host:2", 1, 3)
    assert record_progress(session, batch_id, "host:1", 2, 3)
    batch = session.get(Batch, batch_id)
    session.refresh(batch)
    assert (batch.chunks_done, batch.chunks_total) == (2, 3)


def test_requeue_failed_starts_failed_recordings_over_in_new_batches(session: Session) -> None:
    run_id = get_or_create_run(session, "night")
    crashed = add_recording(
        session,
        "crashed",
        "kim",
        "4a",
        WHEN,
        run_id=run_id,
        status=RecordingStatus.failed,
        failure_reason="attempts_exhausted",
    )
    add_recording(
        session,
        "garbled",
        "kim",
        "4a",
        WHEN,
        run_id=run_id,
        status=RecordingStatus.failed,
        failure_reason="unparseable_output",
    )
    add_recording(session, "fine", "kim", "4a", WHEN, run_id=run_id, status=RecordingStatus.scored)
    session.execute(text("UPDATE recordings SET attempts = 3"))
    count, batches = requeue_failed(session, run_id, 100.0, reason="attempts_exhausted")
    assert count == 1 and len(batches) == 1
    again = session.execute(select(Recording).where(Recording.id == crashed)).scalar_one()
    session.refresh(again)
    assert (again.status, again.attempts, again.failure_reason, again.batch_id) == (
        RecordingStatus.queued,
        0,
        None,
        batches[0],
    )
    assert requeue_failed(session, run_id, 100.0)[0] == 1, "then the rest"
