"""Scoring one batch: claim it, fetch and score its recordings, complete it.

The lease is renewed by a heartbeat for as long as the work lasts. A recording that cannot be
read, or that makes the engine raise even alone, fails alone with its reason; its batch-mates
are scored, and nobody is charged. An outage (database, store or broker unreachable) gives the
batch back at no cost for a retry; any other error gives it back charged, as a crash. Since
the results are written in one transaction of upserts, a retry never leaves duplicates or half
a batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from db.batches import BatchOutcome, ClaimedRecording, ClaimVerdict, RecordingResult
from engines.scheduling import ChunkProgress, score_chunks
from scoring.failures import FailureReason, RecordingFailure
from worker import metrics
from worker.fetching import fetch
from worker.lease import LeaseHeartbeat, LeaseLost, renewal_interval
from worker.retry import is_outage
from worker.runtime import Runtime

log = logging.getLogger(__name__)


class ClaimDeferred(Exception):
    """The batch's last holder went silent but may be alive; the claim is asked again in
    `seconds` (the task retries then), by when it has beaten or been silent long enough."""

    def __init__(self, batch_id: int, seconds: float) -> None:
        super().__init__(f"batch {batch_id}: its last holder may be alive; asking again in {seconds:g} s")
        self.seconds = seconds


def _score(
    runtime: Runtime, recordings: Sequence[ClaimedRecording], heartbeat: LeaseHeartbeat
) -> dict[int, RecordingResult]:
    by_id = {r.id: r for r in recordings}

    def chunk_done(at: ChunkProgress) -> None:
        heartbeat.check()
        _note_progress(runtime, heartbeat.batch_id, at.chunks_done, at.chunks)

    return score_chunks(
        runtime.engine,
        {r.id: r.duration_seconds for r in recordings},
        lambda recording_id: fetch(runtime, by_id[recording_id]),
        runtime.settings.chunk_audio_seconds,
        loaders=runtime.fetchers,
        progress=chunk_done,
        passes_through=is_outage,
    )


def _note_progress(runtime: Runtime, batch_id: int, done: int, total: int) -> None:
    """Progress is for people watching `pronscore status`; a database blip here stops nothing,
    but finding the batch in another worker's hands stops the work."""
    try:
        held = runtime.ledger.note_progress(batch_id, runtime.owner, done, total)
    except Exception as error:
        if not is_outage(error):
            raise
        log.warning("batch %d: could not note progress (%s)", batch_id, error, extra={"batch_id": batch_id})
        return
    if not held:
        raise LeaseLost(f"batch {batch_id} was taken over by another worker")


def run_batch(batch_id: int, runtime: Runtime) -> BatchOutcome:
    """Score one batch; a no-op when another delivery already claimed or finished it. Batches
    this process owes the queue are given back first (raising while the database is away)."""
    engine = runtime.engine  # load before taking the lease: loading may take minutes
    started = time.perf_counter()
    settings = runtime.settings
    runtime.owed.give_back(runtime.ledger, runtime.owner)
    claim = runtime.ledger.claim(batch_id, runtime.owner, settings.lease_seconds)
    if claim.verdict is ClaimVerdict.undecided:
        raise ClaimDeferred(batch_id, renewal_interval(settings.lease_seconds))
    if claim.verdict is ClaimVerdict.refused:
        log.info("batch %d is claimed or done already; nothing to do", batch_id, extra={"batch_id": batch_id})
        return BatchOutcome(batch_id, claimed=False)
    recordings = claim.recordings
    exhausted = {
        r.id: RecordingFailure(FailureReason.attempts_exhausted, "gave up after repeated crashes of its batch")
        for r in recordings
        if r.attempts >= settings.max_attempts
    }
    todo = [r for r in recordings if r.attempts < settings.max_attempts]
    log.info(
        "batch %d: scoring %d recordings",
        batch_id,
        len(todo),
        extra={"batch_id": batch_id, "model": engine.version.name},
    )

    def renew() -> bool:
        return runtime.ledger.renew(batch_id, runtime.owner, settings.lease_seconds)

    try:
        with LeaseHeartbeat(batch_id, renew, renewal_interval(settings.lease_seconds)) as heartbeat:
            results = exhausted | _score(runtime, todo, heartbeat)
            heartbeat.check()
            outcome = runtime.ledger.complete(batch_id, runtime.owner, engine.version, results)
    except LeaseLost:
        outcome = None
    except Exception as error:
        _give_back(runtime, batch_id, crashed=not is_outage(error))
        raise
    if outcome is None:
        log.warning("batch %d: lost the lease; another worker finishes it", batch_id, extra={"batch_id": batch_id})
        return BatchOutcome(batch_id, claimed=False)
    _observe(runtime, outcome, recordings, time.perf_counter() - started)
    return outcome


def _observe(runtime: Runtime, outcome: BatchOutcome, recordings: Sequence[ClaimedRecording], elapsed: float) -> None:
    audio = sum(r.duration_seconds or 0.0 for r in recordings)
    metrics.BATCH_SECONDS.observe(elapsed)
    metrics.AUDIO_SECONDS.inc(audio)
    metrics.AUDIO_RATE.set(audio / elapsed if elapsed else 0.0)
    metrics.RECORDINGS_SCORED.inc(outcome.scored)
    for reason, count in outcome.failed.items():
        metrics.RECORDINGS_FAILED.labels(reason=reason).inc(count)
    try:
        metrics.QUEUE_DEPTH.set(runtime.ledger.pending())
    except Exception as error:  # a gauge for dashboards; the batch is written already
        log.warning("could not count the batches left (%s)", error)
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
        runtime.ledger.release(batch_id, runtime.owner, crashed=crashed)
    except Exception:  # the database may be the thing that failed: owe it
        runtime.owed.add(batch_id, crashed=crashed)
        log.exception("could not give batch %d back; it is given back once the database answers", batch_id)
