"""The life of a batch, in one place.

A batch is formed at enqueue from recordings sorted by length; a worker claims it under a
lease, renews the lease while it works, and completes it with every result in one
transaction; after an infrastructure error it releases the batch; a batch whose worker stopped
renewing expires, and the sweep sends it again. Each step is one conditional statement on the
batch row, so two workers (or a worker and the sweep) never both hold a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from db.models import Batch, BatchStatus, Recording, RecordingStatus
from db.runs import record_batch_done
from db.upserts import upsert_assessments
from scoring.assessment import AssessmentResult
from scoring.batching import form_batches
from scoring.failures import FailureReason, RecordingFailure

RecordingResult = AssessmentResult | RecordingFailure


@dataclass(frozen=True)
class ClaimedRecording:
    id: int
    source_id: str
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


def _lease_until(lease_seconds: int) -> ColumnElement[Any]:
    return func.now() + text(f"interval '{int(lease_seconds)} seconds'")


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


def claim_batch(session: Session, batch_id: int, owner: str, lease_seconds: int) -> bool:
    """Take the lease if the batch is queued, its lease expired, or this owner already holds it."""
    claimed = session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            or_(
                Batch.status == BatchStatus.queued,
                and_(
                    Batch.status == BatchStatus.running,
                    or_(Batch.lease_expires_at < func.now(), Batch.lease_owner == owner),
                ),
            ),
        )
        .values(
            status=BatchStatus.running,
            lease_owner=owner,
            lease_expires_at=_lease_until(lease_seconds),
            attempts=Batch.attempts + 1,
            started_at=func.coalesce(Batch.started_at, func.now()),
        )
        .returning(Batch.id)
    ).scalar_one_or_none()
    return claimed is not None


def renew_lease(session: Session, batch_id: int, owner: str, lease_seconds: int) -> bool:
    """Extend the lease by `lease_seconds` from now; False when `owner` no longer holds it."""
    renewed = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.lease_owner == owner, Batch.status == BatchStatus.running)
        .values(lease_expires_at=_lease_until(lease_seconds))
        .returning(Batch.id)
    ).scalar_one_or_none()
    return renewed is not None


def start_recordings(session: Session, batch_id: int) -> list[ClaimedRecording]:
    """The batch's recordings still to score, marked `scoring` with one more attempt each."""
    rows = session.execute(
        update(Recording)
        .where(
            Recording.batch_id == batch_id,
            Recording.status.in_([RecordingStatus.queued, RecordingStatus.scoring]),
        )
        .values(status=RecordingStatus.scoring, attempts=Recording.attempts + 1)
        .returning(
            Recording.id,
            Recording.source_id,
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
        if isinstance(result, AssessmentResult) and (result.scored or result.reason is FailureReason.unparseable_output)
    ]
    upsert_assessments(session, model_version_id, answered)
    scored = [rid for rid, result in answered if result.scored]
    failures = {
        rid: result if isinstance(result, RecordingFailure) else RecordingFailure(result.reason, result.failure or "")
        for rid, result in results.items()
        if not (isinstance(result, AssessmentResult) and result.scored)
    }
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
            .values(status=RecordingStatus.failed, failure_reason=failure.reason.value, last_error=failure.detail)
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


def release_batch(session: Session, batch_id: int, owner: str) -> None:
    """Give a batch back to the queue after an infrastructure error, so a retry or a sweep can take it."""
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.lease_owner == owner)
        .values(status=BatchStatus.queued, lease_owner=None, lease_expires_at=None)
    )


def expire_leases(session: Session) -> list[int]:
    """Running batches whose worker stopped renewing its lease go back to queued; their ids."""
    rows = session.execute(
        update(Batch)
        .where(Batch.status == BatchStatus.running, Batch.lease_expires_at < func.now())
        .values(status=BatchStatus.queued, lease_owner=None, lease_expires_at=None)
        .returning(Batch.id)
    ).scalars()
    return sorted(rows)


def queued_batches(session: Session) -> list[int]:
    return sorted(session.execute(select(Batch.id).where(Batch.status == BatchStatus.queued)).scalars())


def pending_work(session: Session) -> int:
    """Batches queued or running: zero means a draining worker may stop."""
    return session.execute(
        select(func.count()).select_from(Batch).where(Batch.status.in_([BatchStatus.queued, BatchStatus.running]))
    ).scalar_one()
