"""Scoring one batch: claim its lease, fetch and decode audio while the model generates, and
write every assessment, phone diff and status in one transaction.

A recording that cannot be read fails alone with its reason; its batch-mates are scored. An
infrastructure error (database or store unreachable) gives the batch back for a retry; since
every write is an upsert inside one transaction, a retry never leaves duplicates or half a batch.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from sqlalchemy import func, select, update

from db.batches import (
    ClaimedRecording,
    claim_batch,
    finish_batch,
    holds_lease,
    pending_work,
    release_batch,
    start_recordings,
)
from db.models import Batch, BatchStatus, Recording, RecordingStatus, Run
from db.session import session_scope
from db.upserts import upsert_assessments, upsert_model_version
from pronscore.settings import Settings
from pronscore.storage import AudioStore, ObjectMissing, S3Uri
from scoring.assessment import Assessment
from scoring.audio import AudioError, decode
from scoring.batching import form_batches
from worker import metrics
from worker.engine.phi4mm import Phi4Engine, ScoringItem, engine_config_from_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingFailure:
    reason: str
    detail: str


@dataclass
class BatchOutcome:
    batch_id: int
    claimed: bool
    scored: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "claimed": self.claimed,
            "scored": self.scored,
            "failed": self.failed,
        }


class Runtime:
    """A worker process's long-lived parts: settings, store, and the model, loaded on first use."""

    def __init__(self, settings: Settings, engine: Phi4Engine | None = None) -> None:
        self.settings = settings
        self.store = AudioStore(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.fetchers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fetch")
        if engine is not None:
            self.__dict__["engine"] = engine

    @cached_property
    def engine(self) -> Phi4Engine:
        log.info("loading model %s", self.settings.model)
        return Phi4Engine(engine_config_from_settings(self.settings))


def _fetch(runtime: Runtime, recording: ClaimedRecording) -> np.ndarray | RecordingFailure:
    try:
        data = runtime.store.get(S3Uri.parse(recording.storage_uri))
        return decode(data, runtime.settings.max_audio_seconds)
    except ObjectMissing as error:
        return RecordingFailure("object_missing", str(error))
    except AudioError as error:
        return RecordingFailure(error.reason, error.detail)
    except ValueError as error:  # a storage URI that is not s3://
        return RecordingFailure("object_missing", str(error))


def _chunks(
    runtime: Runtime, recordings: Sequence[ClaimedRecording], durations: dict[int, float | None]
) -> Iterator[list[tuple[ClaimedRecording, Future]]]:
    """Engine-sized chunks in length order; all downloads start at once, so later chunks are
    fetched and decoded while earlier ones generate."""
    by_id = {r.id: r for r in recordings}
    budget = runtime.settings.generation_batch_seconds
    chunks = form_batches([(r.id, durations.get(r.id)) for r in recordings], budget)
    # Submitted in chunk order, so the first chunk's audio arrives first.
    futures = {i: runtime.fetchers.submit(_fetch, runtime, by_id[i]) for chunk in chunks for i in chunk}
    for chunk in chunks:
        yield [(by_id[i], futures[i]) for i in chunk]


def _score(
    runtime: Runtime, recordings: Sequence[ClaimedRecording], durations: dict[int, float | None]
) -> dict[int, Assessment | RecordingFailure]:
    results: dict[int, Assessment | RecordingFailure] = {}
    for chunk in _chunks(runtime, recordings, durations):
        readable: list[tuple[ClaimedRecording, np.ndarray]] = []
        for recording, future in chunk:
            audio = future.result()
            if isinstance(audio, RecordingFailure):
                results[recording.id] = audio
            else:
                readable.append((recording, audio))
        if readable:
            items = [ScoringItem(audio, r.reference_text) for r, audio in readable]
            for (recording, _), assessment in zip(readable, runtime.engine.score(items), strict=True):
                results[recording.id] = assessment
    return results


def _write(
    runtime: Runtime, batch_id: int, results: dict[int, Assessment | RecordingFailure], exhausted: list[int]
) -> BatchOutcome | None:
    outcome = BatchOutcome(batch_id, claimed=True)
    version = runtime.engine.version
    with session_scope(runtime.settings.database_url) as session:
        if not holds_lease(session, batch_id, runtime.owner):
            log.warning("lost the lease of batch %d; another worker finishes it", batch_id)
            return None
        model_version_id = upsert_model_version(
            session,
            version.name,
            base_model=version.base_model,
            base_revision=version.base_revision,
            adapter_sha256=version.adapter_sha256,
            task_format=version.task_format,
            decoding=version.decoding,
            meaningless=version.meaningless,
        )
        failures: dict[int, RecordingFailure] = {
            rid: RecordingFailure("attempts_exhausted", "gave up after repeated crashes of its batch")
            for rid in exhausted
        }
        answered = [(rid, result) for rid, result in results.items() if isinstance(result, Assessment)]
        upsert_assessments(session, model_version_id, answered)
        scored = [rid for rid, assessment in answered if assessment.scored]
        for recording_id, result in results.items():
            if isinstance(result, RecordingFailure):
                failures[recording_id] = result
            elif not result.scored:
                failures[recording_id] = RecordingFailure("unparseable_output", result.failure or "")
        if scored:
            session.execute(
                update(Recording)
                .where(Recording.id.in_(scored))
                .values(status=RecordingStatus.scored, failure_reason=None, last_error=None)
            )
        for recording_id, failure in failures.items():
            session.execute(
                update(Recording)
                .where(Recording.id == recording_id)
                .values(status=RecordingStatus.failed, failure_reason=failure.reason, last_error=failure.detail)
            )
            outcome.failed[failure.reason] = outcome.failed.get(failure.reason, 0) + 1
        finish_batch(session, batch_id)
        run_id = session.execute(select(Batch.run_id).where(Batch.id == batch_id)).scalar_one()
        unfinished = session.execute(
            select(func.count()).select_from(Batch).where(Batch.run_id == run_id, Batch.status != BatchStatus.done)
        ).scalar_one()
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                model_version_id=func.coalesce(Run.model_version_id, model_version_id),
                finished_at=func.now() if unfinished == 0 else None,
            )
        )
        metrics.QUEUE_DEPTH.set(pending_work(session))
    outcome.scored = len(scored)
    return outcome


def run_batch(batch_id: int, runtime: Runtime) -> BatchOutcome:
    """Score one batch; a no-op when another delivery already claimed or finished it."""
    engine = runtime.engine  # load before taking the lease: loading may take minutes
    started = time.perf_counter()
    with session_scope(runtime.settings.database_url) as session:
        if not claim_batch(session, batch_id, runtime.owner, runtime.settings.lease_seconds):
            log.info("batch %d is claimed or done already; nothing to do", batch_id, extra={"batch_id": batch_id})
            return BatchOutcome(batch_id, claimed=False)
        recordings = start_recordings(session, batch_id)
        durations = dict(
            session.execute(
                select(Recording.id, Recording.duration_seconds).where(Recording.batch_id == batch_id)
            ).all()
        )
    limit = runtime.settings.max_attempts
    exhausted = [r.id for r in recordings if r.attempts > limit]
    todo = [r for r in recordings if r.attempts <= limit]
    log.info(
        "batch %d: scoring %d recordings",
        batch_id,
        len(todo),
        extra={"batch_id": batch_id, "model": engine.version.name},
    )
    try:
        results = _score(runtime, todo, durations)
        outcome = _write(runtime, batch_id, results, exhausted)
    except Exception:
        _give_back(runtime, batch_id)
        raise
    if outcome is None:
        return BatchOutcome(batch_id, claimed=False)
    elapsed = time.perf_counter() - started
    audio = sum(d or 0.0 for d in durations.values())
    metrics.BATCH_SECONDS.observe(elapsed)
    metrics.AUDIO_SECONDS.inc(audio)
    metrics.AUDIO_RATE.set(audio / elapsed if elapsed else 0.0)
    metrics.RECORDINGS_SCORED.inc(outcome.scored)
    for reason, count in outcome.failed.items():
        metrics.RECORDINGS_FAILED.labels(reason=reason).inc(count)
    log.info(
        "batch %d: %d scored, %d failed in %.1f s",
        batch_id,
        outcome.scored,
        sum(outcome.failed.values()),
        elapsed,
        extra={"batch_id": batch_id, "scored": outcome.scored, "failed": outcome.failed},
    )
    return outcome


def _give_back(runtime: Runtime, batch_id: int) -> None:
    try:
        with session_scope(runtime.settings.database_url) as session:
            release_batch(session, batch_id, runtime.owner)
    except Exception:  # the database may be the thing that failed; the lease then expires
        log.exception("could not give batch %d back; its lease will expire", batch_id)
