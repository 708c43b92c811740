"""The batch runner as a plain function, on the real database and S3 server, without a broker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from db import batches
from db.models import Assessment, Batch, PhoneDiff, Recording, RecordingStatus
from db.session import get_engine, session_scope
from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from producer.client import ScoringClient
from producer.sample import sample_submissions
from pronscore.settings import get_settings
from scoring.assessment import AssessmentResult, assess
from scoring.formats import get_format
from scoring.lexicon import default_lexicon
from scoring.parsing import parse_outputs
from scoring.speechocean import parse_utterance
from tests.conftest import SAMPLE_DIR
from tests.factories import fake_version
from tests.pipeline import short_sample
from worker.ledger import DatabaseLedger
from worker.runner import run_batch
from worker.runtime import Runtime


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> Phi4Engine:
    return Phi4Engine(Phi4Config(model=str(tiny_model)))


def _counts() -> tuple[int, int, set]:
    with session_scope(get_settings().database_url) as session:
        assessments = session.execute(select(func.count()).select_from(Assessment)).scalar_one()
        diffs = session.execute(select(func.count()).select_from(PhoneDiff)).scalar_one()
        statuses = set(session.execute(select(Recording.status)).scalars())
    return assessments, diffs, statuses


def test_a_second_delivery_does_nothing(no_worker: dict, engine: Phi4Engine) -> None:
    (batch_id, *_) = ScoringClient().enqueue(short_sample(3), run="night").batches
    runtime = Runtime.from_settings(get_settings(), engine=engine)
    first = run_batch(batch_id, runtime)
    before = _counts()
    second = run_batch(batch_id, Runtime.from_settings(get_settings(), engine=engine))
    assert first.claimed and not second.claimed
    assert _counts() == before


def test_dropped_database_connection_mid_write_leaves_nothing_and_the_retry_finishes(
    no_worker: dict, engine: Phi4Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = ScoringClient(get_settings().model_copy(update={"batch_audio_seconds": 1000.0})).enqueue(
        short_sample(4), run="night"
    )
    (batch_id,) = result.batches
    real_upsert = batches.upsert_assessments

    def upsert_then_lose_connection(session, *args):
        """Write the assessments, then the server drops the connection before the statuses."""
        written = real_upsert(session, *args)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with get_engine(get_settings().database_url).connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        return written

    monkeypatch.setattr(batches, "upsert_assessments", upsert_then_lose_connection)
    runtime = Runtime.from_settings(get_settings(), engine=engine)
    with pytest.raises(Exception, match=r"terminat|closed|connection"):
        run_batch(batch_id, runtime)
    assessments, diffs, statuses = _counts()
    assert (assessments, diffs) == (0, 0), "nothing half-written"
    assert statuses == {RecordingStatus.queued}, "given back with the batch"
    with session_scope(get_settings().database_url) as session:
        assert session.get(Batch, batch_id).status.value == "queued", "given back for the retry"
        assert set(session.execute(select(Recording.attempts)).scalars()) == {0}, "an outage costs nothing"

    monkeypatch.setattr(batches, "upsert_assessments", real_upsert)
    retry = run_batch(batch_id, runtime)
    assert retry.claimed and retry.scored == 4
    assessments, _, statuses = _counts()
    assert assessments == 4 and statuses == {RecordingStatus.scored}


def test_recordings_that_keep_crashing_their_batch_fail_after_the_attempt_cap(
    no_worker: dict, engine: Phi4Engine
) -> None:
    (batch_id,) = (
        ScoringClient(get_settings().model_copy(update={"batch_audio_seconds": 1000.0}))
        .enqueue(short_sample(2), run="night")
        .batches
    )
    with session_scope(get_settings().database_url) as session:
        session.execute(text("UPDATE recordings SET attempts = 3"))
    outcome = run_batch(batch_id, Runtime.from_settings(get_settings(), engine=engine))
    assert outcome.failed == {"attempts_exhausted": 2}
    with session_scope(get_settings().database_url) as session:
        reasons = set(session.execute(select(Recording.failure_reason)).scalars())
    assert reasons == {"attempts_exhausted"}


TENSOR_MISMATCH = "The size of tensor a (6) must match the size of tensor b (7) at non-singleton dimension 1"


TENSOR_MISMATCH = "The size of tensor a (6) must match the size of tensor b (7) at non-singleton dimension 1"


class AnswerKeyEngine:
    """Answers each recording with its sentence's expert answer in the joint-v1 format (real
    parsing and phone diffs, no model), and raises, as a Phi-4 batch whose lengths its feature
    extractor cannot pad did, whenever the chosen sentence is in the call."""

    version = fake_version("answer-key/joint-v1", meaningless=True)

    def __init__(self, raises_on: str) -> None:
        self.raises_on = raises_on
        self.answers = {s.label["text"]: get_format("joint-v1").targets(parse_utterance(s.label))[0]
                        for s in sample_submissions(SAMPLE_DIR)}  # fmt: skip
        self.lexicon = default_lexicon()
        self.calls = 0

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        self.calls += 1
        if any(item.reference_text == self.raises_on for item in items):
            raise RuntimeError(TENSOR_MISMATCH)
        fields = [turn.fields for turn in get_format("joint-v1").turns("")]
        return [
            assess(item.reference_text, parse_outputs([answer], fields), answer, self.lexicon)
            for item in items
            for answer in [self.answers[item.reference_text]]
        ]

    def close(self) -> None:
        pass


def test_a_recording_the_engine_cannot_score_fails_alone_and_its_large_batch_is_scored(no_worker: dict) -> None:
    rows = [s.manifest_row() for s in sample_submissions(SAMPLE_DIR)]
    settings = get_settings().model_copy(update={"batch_audio_seconds": 1e6, "chunk_audio_seconds": 1e6})
    (batch_id,) = ScoringClient(settings).enqueue(rows, run="night-one-bad").batches
    chosen = rows[len(rows) // 2]
    engine = AnswerKeyEngine(raises_on=chosen["text"])
    outcome = run_batch(batch_id, Runtime.from_settings(settings, engine=engine))

    assert (outcome.scored, outcome.failed) == (len(rows) - 1, {"engine_error": 1})
    assert engine.calls <= 1 + 2 * len(rows).bit_length(), "halving, not one call per recording"
    with session_scope(settings.database_url) as session:
        failed = session.execute(
            select(Recording.source_id, Recording.failure_detail).where(Recording.status == RecordingStatus.failed)
        ).all()
        assert failed == [(chosen["recording_id"], f"RuntimeError: {TENSOR_MISMATCH}")]
        assert set(session.execute(select(Recording.attempts)).scalars()) == {0}, "no attempt charged"
        batch = session.get(Batch, batch_id)
        assert (batch.status.value, batch.attempts) == ("done", 1), "claimed once, done"
        assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == len(rows) - 1


class FaultyWrites(DatabaseLedger):
    """The database ledger with a bug in writing a batch's results (not an outage)."""

    def complete(self, *args: object) -> None:
        raise ValueError("a bug in writing the results")


def test_an_error_of_the_workers_own_gives_the_batch_back_charged(no_worker: dict, engine: Phi4Engine) -> None:
    (batch_id,) = (
        ScoringClient(get_settings().model_copy(update={"batch_audio_seconds": 1000.0}))
        .enqueue(short_sample(2), run="night")
        .batches
    )
    runtime = Runtime.from_settings(get_settings(), engine=engine)
    database = runtime.ledger
    runtime.ledger = FaultyWrites(database.sessions)
    for attempt in range(1, get_settings().max_attempts + 1):
        with pytest.raises(ValueError, match="a bug"):
            run_batch(batch_id, runtime)
        with session_scope(get_settings().database_url) as session:
            assert set(session.execute(select(Recording.attempts)).scalars()) == {attempt}
    runtime.ledger = database
    outcome = run_batch(batch_id, runtime)
    assert outcome.failed == {"attempts_exhausted": 2}, "it ends instead of going round for ever"
