"""Leases that last as long as the work: a batch that takes longer than three lease periods is
claimed once and scored once while the sweep runs every second, on a real database, Redis and
S3 server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Assessment, Batch, BatchStatus, Recording
from db.session import session_scope
from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from producer.client import ScoringClient
from pronscore.queue import make_celery
from pronscore.settings import get_settings
from scoring.assessment import AssessmentResult
from tests.pipeline import short_sample
from worker.ledger import DatabaseLedger
from worker.runner import run_batch
from worker.runtime import Runtime
from worker.sweep import sweep


class SlowEngine:
    """The tiny model, taking `seconds` longer for each chunk, as a slow GPU would."""

    def __init__(self, engine: Phi4Engine, seconds: float) -> None:
        self.engine, self.seconds = engine, seconds
        self.version = engine.version

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        time.sleep(self.seconds)
        return self.engine.score(items)

    def close(self) -> None:
        self.engine.close()


@pytest.fixture
def sweeping(no_worker: dict) -> Iterator[list[int]]:
    """The sweep, every second in a thread, for the length of the test; yields the expired ids."""
    expired: list[int] = []
    stop = threading.Event()
    app = make_celery(get_settings())

    def loop() -> None:
        while not stop.wait(1.0):
            expired.extend(sweep(get_settings(), app).expired)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield expired
    stop.set()
    thread.join()


def _long_batch(tiny_model: Path) -> tuple[int, Runtime, int]:
    """One batch of 4 recordings in 4 chunks of 4.5 s each: 18 s of work against a 5 s lease."""
    settings = get_settings().model_copy(update={"batch_audio_seconds": 1000.0, "chunk_audio_seconds": 0.1})
    (batch_id,) = ScoringClient(settings).enqueue(short_sample(4), run="night-long").batches
    engine = SlowEngine(Phi4Engine(Phi4Config(model=str(tiny_model))), seconds=4.5)
    assert 4 * engine.seconds > 3 * settings.lease_seconds
    return batch_id, Runtime.from_settings(settings, engine=engine), 4


def _assessments() -> int:
    with session_scope(get_settings().database_url) as session:
        return session.execute(select(func.count()).select_from(Assessment)).scalar_one()


def test_a_batch_longer_than_three_leases_is_claimed_once_and_scored_once(
    sweeping: list[int], tiny_model: Path
) -> None:
    batch_id, runtime, recordings = _long_batch(tiny_model)
    outcome = run_batch(batch_id, runtime)
    assert outcome.claimed and outcome.scored == recordings
    assert sweeping == [], "the sweep never found the lease expired"
    with session_scope(get_settings().database_url) as session:
        batch = session.get(Batch, batch_id)
        assert (batch.status, batch.attempts) == (BatchStatus.done, 1)
        assert set(session.execute(select(Recording.attempts)).scalars()) == {0}, "no crash, no attempt"
    assert _assessments() == recordings


class NotRenewing(DatabaseLedger):
    """A worker whose heartbeat no longer reaches the database."""

    def renew(self, batch_id: int, owner: str, lease_seconds: int) -> bool:
        return True


def test_without_renewal_the_sweep_takes_the_batch_and_its_results_are_not_written(
    sweeping: list[int], tiny_model: Path
) -> None:
    """What happened before the heartbeat, and what happens to a worker that hangs: the lease
    runs out, the sweep re-queues the batch, and the late worker writes nothing."""
    batch_id, runtime, _ = _long_batch(tiny_model)
    runtime.ledger = NotRenewing(runtime.ledger.sessions)
    outcome = run_batch(batch_id, runtime)
    assert not outcome.claimed
    assert batch_id in sweeping
    with session_scope(get_settings().database_url) as session:
        assert session.get(Batch, batch_id).status == BatchStatus.queued, "re-queued for another worker"
    assert _assessments() == 0
