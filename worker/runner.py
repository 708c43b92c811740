"""Scoring one batch: claim it, fetch and score its recordings, complete it.

The lease is renewed by a heartbeat for as long as the work lasts. A recording that cannot be
read fails alone with its reason; its batch-mates are scored. An outage (database, store or
broker unreachable) gives the batch back at no cost for a retry; any other error gives it back
charged, as a crash. Since the results are written in one transaction of upserts, a retry
never leaves duplicates or half a batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from db.batches import (
    BatchOutcome,
    ClaimedRecording,
    RecordingResult,
    claim_batch,
    complete_batch,
    pending_work,
    record_progress,
    release_batch,
    start_recordings,
)
from db.session import session_scope
from db.upserts import upsert_model_version
from engines import ScoringItem
from scoring.failures import FailureReason, RecordingFailure
from worker import metrics
from worker.fetching import chunks
from worker.lease import LeaseHeartbeat, LeaseLost
from worker.retry import is_outage
from worker.runtime import Runtime

log = logging.getLogger(__name__)


def _claim(runtime: Runtime, batch_id: int) -> list[ClaimedRecording] | None:
    with session_scope(runtime.settings.database_url) as session:
        if not claim_batch(session, batch_id, runtime.owner, runtime.settings.lease_seconds):
            return None
        return start_recordings(session, batch_id)


def _score(
    runtime: Runtime, recordings: Sequence[ClaimedRecording], heartbeat: LeaseHeartbeat
) -> dict[int, RecordingResult]:
    results: dict[int, RecordingResult] = {}
    planned = chunks(runtime, recordings)
    for done, chunk in enumerate(planned, start=1):
        heartbeat.check()
        readable: list[tuple[ClaimedRecording, ScoringItem]] = []
        for recording, future in chunk:
            audio = future.result()
            if isinstance(audio, RecordingFailure):
                results[recording.id] = audio
            else:
                readable.append((recording, ScoringItem(audio, recording.reference_text)))
        if readable:
            scored = runtime.engine.score([item for _, item in readable])
            results.update((recording.id, result) for (recording, _), result in zip(readable, scored, strict=True))
        _note_progress(runtime, heartbeat.batch_id, done, len(planned))
    return results


def _note_progress(runtime: Runtime, batch_id: int, done: int, total: int) -> None:
    """Progress is for people watching `pronscore status`; a database blip here stops nothing."""
    try:
        with session_scope(runtime.settings.database_url) as session:
            record_progress(session, batch_id, runtime.owner, done, total)
    except Exception as error:
        if not is_outage(error):
            raise
        log.warning("batch %d: could not note progress (%s)", batch_id, error, extra={"batch_id": batch_id})


def _complete(runtime: Runtime, batch_id: int, results: dict[int, RecordingResult]) -> BatchOutcome | None:
    with session_scope(runtime.settings.database_url) as session:
        model_version_id = upsert_model_version(session, **runtime.engine.version.row())
        outcome = complete_batch(session, batch_id, runtime.owner, model_version_id, results)
        metrics.QUEUE_DEPTH.set(pending_work(session))
    return outcome


def run_batch(batch_id: int, runtime: Runtime) -> BatchOutcome:
    """Score one batch; a no-op when another delivery already claimed or finished it."""
    engine = runtime.engine  # load before taking the lease: loading may take minutes
    started = time.perf_counter()
    recordings = _claim(runtime, batch_id)
    if recordings is None:
        log.info("batch %d is claimed or done already; nothing to do", batch_id, extra={"batch_id": batch_id})
        return BatchOutcome(batch_id, claimed=False)
    limit = runtime.settings.max_attempts
    exhausted = {
        r.id: RecordingFailure(FailureReason.attempts_exhausted, "gave up after repeated crashes of its batch")
        for r in recordings
        if r.attempts >= limit
    }
    todo = [r for r in recordings if r.attempts < limit]
    log.info(
        "batch %d: scoring %d recordings",
        batch_id,
        len(todo),
        extra={"batch_id": batch_id, "model": engine.version.name},
    )
    settings = runtime.settings
    try:
        with LeaseHeartbeat(settings.database_url, batch_id, runtime.owner, settings.lease_seconds) as heartbeat:
            results = exhausted | _score(runtime, todo, heartbeat)
            heartbeat.check()
            outcome = _complete(runtime, batch_id, results)
    except LeaseLost:
        outcome = None
    except Exception as error:
        _give_back(runtime, batch_id, crashed=not is_outage(error))
        raise
    if outcome is None:
        log.warning("batch %d: lost the lease; another worker finishes it", batch_id, extra={"batch_id": batch_id})
        return BatchOutcome(batch_id, claimed=False)
    _observe(outcome, recordings, time.perf_counter() - started)
    return outcome


def _observe(outcome: BatchOutcome, recordings: Sequence[ClaimedRecording], elapsed: float) -> None:
    audio = sum(r.duration_seconds or 0.0 for r in recordings)
    metrics.BATCH_SECONDS.observe(elapsed)
    metrics.AUDIO_SECONDS.inc(audio)
    metrics.AUDIO_RATE.set(audio / elapsed if elapsed else 0.0)
    metrics.RECORDINGS_SCORED.inc(outcome.scored)
    for reason, count in outcome.failed.items():
        metrics.RECORDINGS_FAILED.labels(reason=reason).inc(count)
    log.info(
        "batch %d: %d scored, %d failed in %.1f s",
        outcome.batch_id,
        outcome.scored,
        sum(outcome.failed.values()),
        elapsed,
        extra={"batch_id": outcome.batch_id, "scored": outcome.scored, "failed": outcome.failed},
    )


def _give_back(runtime: Runtime, batch_id: int, *, crashed: bool) -> None:
    try:
        with session_scope(runtime.settings.database_url) as session:
            release_batch(session, batch_id, runtime.owner, crashed=crashed)
    except Exception:  # the database may be the thing that failed; the lease then expires
        log.exception("could not give batch %d back; its lease will expire", batch_id)
