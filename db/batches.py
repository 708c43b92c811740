"""The life of a batch, in one place.

A batch is formed at enqueue from recordings sorted by length; a worker claims it under a
lease, renews the lease while it works, and completes it with every result in one
transaction; after an infrastructure error it releases the batch; a batch whose worker stopped
renewing expires, and the sweep sends it again. Each step is one conditional statement on the
batch row, so two workers (or a worker and the sweep) never both hold a batch.

Attempts: only a crash costs one. A worker that gives its batch back (an outage) costs
nothing; a batch taken over from another worker that died holding it costs each of its
unfinished recordings one attempt, as does a batch given back after an error of the worker's own
(`release_batch(..., crashed=True)`). The last holder of an expired lease stays named on the
batch until the next claim, so the claim can tell a take-over from a retry.

Dead, not merely out of reach: a worker that cannot reach the database can neither renew its
lease nor give its batch back, so an expired lease alone proves nothing. Each worker process
beats a row of `workers` every third of the lease while it lives (`beat`), and a take-over
charges only when the last holder stayed silent for a whole lease while the database answered
other workers (or the claimer) without a break. A holder that beat within half a lease is alive
(it was cut off and is back): it loses the batch at no cost. A holder silent since an outage that
cut off everyone is neither yet: the claim is put off (`ClaimVerdict.undecided`) until it beats
again or a lease of witnessed silence has passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Batch, BatchStatus, Recording, RecordingStatus, Run, Worker, failure_columns
from db.runs import record_batch_done
from db.upserts import upsert_assessments
from scoring.assessment import AssessmentResult
from scoring.batching import form_batches
from scoring.failures import FailureReason, RecordingFailure

RecordingResult = AssessmentResult | RecordingFailure
_UNFINISHED = (RecordingStatus.queued, RecordingStatus.scoring)


@dataclass(frozen=True)
class ClaimedRecording:
    id: int
    storage_uri: str
    reference_text: str
    attempts: int
    duration_seconds: float | None


@dataclass
class BatchOutcome:
    batch_id: int
    claimed: bool
    scored: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"batch_id": self.batch_id, "claimed": self.claimed, "scored": self.scored, "failed": self.failed}


class ClaimVerdict(StrEnum):
    taken = "taken"  # the lease is the claimer's now
    refused = "refused"  # the batch is done, or another worker's lease has not run out
    undecided = "undecided"  # its last holder is silent, but may be alive: ask again after a beat


class _Holder(StrEnum):
    alive = "alive"
    dead = "dead"
    unknown = "unknown"


# Rows of workers silent this long are forgotten by the sweep; a forgotten holder counts as
# silent for ever, which is what it is.
FORGET_WORKERS_AFTER_SECONDS = 86_400


def _lease_until(lease_seconds: int) -> ColumnElement[Any]:
    return func.now() + text(f"interval '{int(lease_seconds)} seconds'")


def _seconds(seconds: float) -> ColumnElement[Any]:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def beat(session: Session, owner: str, lease_seconds: int) -> None:
    """Note that the worker `owner` is alive and reaches the database now. A beat after a
    silence of more than half a lease (a beat or more missed) starts a new unbroken stretch."""
    now = func.now()
    broke_off = Worker.seen_at < now - _seconds(lease_seconds / 2)
    session.execute(
        insert(Worker)
        .values(name=owner, seen_at=now, connected_since=now)
        .on_conflict_do_update(
            index_elements=[Worker.name],
            set_={"seen_at": now, "connected_since": case((broke_off, now), else_=Worker.connected_since)},
        )
    )


def _holder(session: Session, holder: str, lease_seconds: int) -> _Holder:
    """Whether the last holder of an expired lease is alive, dead, or not known yet. Witnesses
    are the workers beating now (the claimer among them, just beaten); the holder's silence
    counts only from when the longest unbroken stretch among them began."""
    now = func.now()
    seen = select(Worker.seen_at).where(Worker.name == holder).scalar_subquery()
    witnessed_since = (
        select(func.min(Worker.connected_since))
        .where(Worker.seen_at >= now - _seconds(lease_seconds / 2))
        .scalar_subquery()
    )
    silent, witnessed = session.execute(
        select(func.extract("epoch", now - seen), func.extract("epoch", now - func.greatest(seen, witnessed_since)))
    ).one()
    if silent is not None and float(silent) < lease_seconds / 2:
        return _Holder.alive
    if witnessed is not None and float(witnessed) >= lease_seconds:
        return _Holder.dead
    return _Holder.unknown


def forget_silent_workers(session: Session) -> int:
    """Drop the rows of workers silent for a day (processes long gone); how many."""
    forgotten = session.execute(
        delete(Worker).where(Worker.seen_at < func.now() - _seconds(FORGET_WORKERS_AFTER_SECONDS))
    )
    return forgotten.rowcount


def create_batches(
    session: Session, run_id: int, waiting: Mapping[int, float | None], budget_seconds: float
) -> list[int]:
    """Cut recordings (id -> seconds) into batches of at most `budget_seconds` of audio,
    shortest first, and assign them; returns the new batch ids."""
    created = []
    for members in form_batches(list(waiting.items()), budget_seconds):
        batch = Batch(run_id=run_id, audio_seconds=sum(waiting[m] or 0.0 for m in members))
        session.add(batch)
        session.flush()
        session.execute(update(Recording).where(Recording.id.in_(members)).values(batch_id=batch.id, run_id=run_id))
        created.append(batch.id)
    return created


def _charge(session: Session, batch_id: int) -> None:
    """One more attempt for each recording of the batch still to score, after a crash."""
    session.execute(
        update(Recording)
        .where(Recording.batch_id == batch_id, Recording.status.in_(_UNFINISHED))
        .values(attempts=Recording.attempts + 1)
    )


def claim_batch(session: Session, batch_id: int, owner: str, lease_seconds: int) -> ClaimVerdict:
    """Take the lease if the batch is queued, its lease expired, or this owner already holds it;
    the claimer beats first. Taking it over from another worker charges each unfinished
    recording an attempt only when that worker is dead (see the module's docstring); when that
    cannot be told yet, nothing changes and the verdict is `undecided`."""
    beat(session, owner, lease_seconds)
    row = session.execute(
        select(Batch.status, Batch.lease_owner, Batch.lease_expires_at < func.now())
        .where(Batch.id == batch_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return ClaimVerdict.refused
    status, holder, expired = row
    if status == BatchStatus.done or (status == BatchStatus.running and not expired and holder != owner):
        return ClaimVerdict.refused
    if holder is not None and holder != owner:
        state = _holder(session, holder, lease_seconds)
        if state is _Holder.unknown:
            return ClaimVerdict.undecided
        if state is _Holder.dead:
            _charge(session, batch_id)
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(
            status=BatchStatus.running,
            lease_owner=owner,
            lease_expires_at=_lease_until(lease_seconds),
            attempts=Batch.attempts + 1,
            chunks_done=0,
            chunks_total=None,
            started_at=func.coalesce(Batch.started_at, func.now()),
        )
    )
    return ClaimVerdict.taken


def renew_lease(session: Session, batch_id: int, owner: str, lease_seconds: int) -> bool:
    """Extend the lease by `lease_seconds` from now; False when `owner` no longer holds it."""
    renewed = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.lease_owner == owner, Batch.status == BatchStatus.running)
        .values(lease_expires_at=_lease_until(lease_seconds))
        .returning(Batch.id)
    ).scalar_one_or_none()
    return renewed is not None


def record_progress(session: Session, batch_id: int, owner: str, chunks_done: int, chunks_total: int) -> bool:
    """Note how many of the batch's chunks are scored, for `pronscore status`; only its holder may."""
    noted = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.lease_owner == owner, Batch.status == BatchStatus.running)
        .values(chunks_done=chunks_done, chunks_total=chunks_total)
        .returning(Batch.id)
    ).scalar_one_or_none()
    return noted is not None


def start_recordings(session: Session, batch_id: int) -> list[ClaimedRecording]:
    """The batch's recordings still to score, marked `scoring`."""
    rows = session.execute(
        update(Recording)
        .where(Recording.batch_id == batch_id, Recording.status.in_(_UNFINISHED))
        .values(status=RecordingStatus.scoring)
        .returning(
            Recording.id,
            Recording.storage_uri,
            Recording.reference_text,
            Recording.attempts,
            Recording.duration_seconds,
        )
    ).all()
    return sorted((ClaimedRecording(*row) for row in rows), key=lambda r: r.id)


def _holds_lease(session: Session, batch_id: int, owner: str) -> bool:
    """Whether `owner` still holds the batch, locking the row until the transaction ends."""
    row = session.execute(
        select(Batch.lease_owner, Batch.status).where(Batch.id == batch_id).with_for_update()
    ).one_or_none()
    return row is not None and row.lease_owner == owner and row.status == BatchStatus.running


def complete_batch(
    session: Session, batch_id: int, owner: str, model_version_id: int, results: Mapping[int, RecordingResult]
) -> BatchOutcome | None:
    """Write every result of the batch and mark it done, only while `owner` holds its lease
    (None when it was lost: another worker finishes the batch and nothing is written here)."""
    if not _holds_lease(session, batch_id, owner):
        return None
    outcome = BatchOutcome(batch_id, claimed=True)
    # A model's answer is stored even when unreadable (its raw output is kept); a recording the
    # engine could not score at all (e.g. alignment_failed) has no answer to store.
    answered = [
        (rid, result)
        for rid, result in results.items()
        if isinstance(result, AssessmentResult)
        and (result.failure is None or result.failure.reason is FailureReason.unparseable_output)
    ]
    upsert_assessments(session, model_version_id, answered)
    scored = [rid for rid, result in answered if result.scored]
    failures = {
        rid: failure
        for rid, result in results.items()
        if (failure := result if isinstance(result, RecordingFailure) else result.failure) is not None
    }
    if scored:
        session.execute(
            update(Recording)
            .where(Recording.id.in_(scored), Recording.batch_id == batch_id)
            .values(status=RecordingStatus.scored, **failure_columns(None))
        )
    for recording_id, failure in failures.items():
        session.execute(
            update(Recording)
            .where(Recording.id == recording_id, Recording.batch_id == batch_id)
            .values(status=RecordingStatus.failed, **failure_columns(failure))
        )
        outcome.failed[failure.reason.value] = outcome.failed.get(failure.reason.value, 0) + 1
    run_id = session.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(status=BatchStatus.done, finished_at=func.now(), lease_owner=None, lease_expires_at=None)
        .returning(Batch.run_id)
    ).scalar_one()
    record_batch_done(session, run_id, model_version_id)
    outcome.scored = len(scored)
    return outcome


def _requeue_recordings(session: Session, batch_ids: list[int]) -> None:
    session.execute(
        update(Recording)
        .where(Recording.batch_id.in_(batch_ids), Recording.status == RecordingStatus.scoring)
        .values(status=RecordingStatus.queued)
    )


def release_batch(session: Session, batch_id: int, owner: str, *, crashed: bool = False) -> bool:
    """Give a batch back to the queue, so a retry or a sweep can take it; False when `owner`
    no longer held it. After an outage (`crashed=False`) it costs nothing; after an error of the
    worker's own it costs each unfinished recording an attempt, so a batch that always fails
    ends instead of going round for ever. A batch whose lease expired meanwhile (re-queued by the
    sweep, still naming `owner`) is given back all the same, so its next claim charges nothing."""
    released = session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            Batch.lease_owner == owner,
            Batch.status.in_([BatchStatus.running, BatchStatus.queued]),
        )
        .values(status=BatchStatus.queued, lease_owner=None, lease_expires_at=None)
        .returning(Batch.id)
    ).scalar_one_or_none()
    if released is None:
        return False
    if crashed:
        _charge(session, batch_id)
    _requeue_recordings(session, [batch_id])
    return True


def expire_leases(session: Session) -> list[int]:
    """Running batches whose worker stopped renewing its lease go back to queued; their ids.
    The last holder stays named, so the next claim by another worker counts the crash."""
    expired = sorted(
        session.execute(
            update(Batch)
            .where(Batch.status == BatchStatus.running, Batch.lease_expires_at < func.now())
            .values(status=BatchStatus.queued, lease_expires_at=None)
            .returning(Batch.id)
        ).scalars()
    )
    if expired:
        _requeue_recordings(session, expired)
    return expired


def requeue_failed(
    session: Session, run_id: int, budget_seconds: float, reason: str | None = None
) -> tuple[int, list[int]]:
    """Failed recordings of a run whose audio is in the store (optionally only those failed
    for `reason`) start over: attempts reset, queued in new batches. Returns how many, and the
    new batch ids.
    Recordings that failed at intake have no stored audio and need a corrected upload."""
    conditions = [
        Recording.run_id == run_id,
        Recording.status == RecordingStatus.failed,
        Recording.storage_uri.like("s3://%"),
    ]
    if reason is not None:
        conditions.append(Recording.failure_reason == reason)
    waiting = dict(
        session.execute(
            update(Recording)
            .where(*conditions)
            .values(status=RecordingStatus.queued, attempts=0, batch_id=None, **failure_columns(None))
            .returning(Recording.id, Recording.duration_seconds)
        ).all()
    )
    if not waiting:
        return 0, []
    session.execute(update(Run).where(Run.id == run_id).values(finished_at=None))
    return len(waiting), create_batches(session, run_id, waiting, budget_seconds)


def queued_batches(session: Session) -> list[int]:
    return sorted(session.execute(select(Batch.id).where(Batch.status == BatchStatus.queued)).scalars())


def pending_work(session: Session) -> int:
    """Batches queued or running: zero means a draining worker may stop."""
    return session.execute(
        select(func.count()).select_from(Batch).where(Batch.status.in_([BatchStatus.queued, BatchStatus.running]))
    ).scalar_one()
