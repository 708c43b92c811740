"""Batch leases in PostgreSQL: who works on a batch, until when, and what is left to do.

A worker claims a batch with one conditional UPDATE; a second delivery of the same message
finds it claimed or done and does nothing. An expired lease lets another worker (or a sweep)
take the batch over.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from db.models import Batch, BatchStatus, Recording, RecordingStatus


@dataclass(frozen=True)
class ClaimedRecording:
    id: int
    source_id: str
    storage_uri: str
    reference_text: str
    attempts: int


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
            lease_expires_at=func.now() + text(f"interval '{int(lease_seconds)} seconds'"),
            attempts=Batch.attempts + 1,
            started_at=func.coalesce(Batch.started_at, func.now()),
        )
        .returning(Batch.id)
    ).scalar_one_or_none()
    return claimed is not None


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
        )
    ).all()
    return sorted((ClaimedRecording(*row) for row in rows), key=lambda r: r.id)


def holds_lease(session: Session, batch_id: int, owner: str) -> bool:
    """Whether `owner` still holds the batch, locking the row until the transaction ends."""
    row = session.execute(
        select(Batch.lease_owner, Batch.status).where(Batch.id == batch_id).with_for_update()
    ).one_or_none()
    return row is not None and row.lease_owner == owner and row.status == BatchStatus.running


def finish_batch(session: Session, batch_id: int) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(status=BatchStatus.done, finished_at=func.now(), lease_owner=None, lease_expires_at=None)
    )


def release_batch(session: Session, batch_id: int, owner: str) -> None:
    """Give a batch back to the queue after a failure, so a retry or a sweep can take it."""
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.lease_owner == owner)
        .values(status=BatchStatus.queued, lease_owner=None, lease_expires_at=None)
    )


def expired_batches(session: Session) -> list[int]:
    """Running batches whose worker stopped renewing: back to queued."""
    rows = session.execute(
        update(Batch)
        .where(Batch.status == BatchStatus.running, Batch.lease_expires_at < func.now())
        .values(status=BatchStatus.queued, lease_owner=None, lease_expires_at=None)
        .returning(Batch.id)
    ).scalars()
    return sorted(rows)


def queued_batches(session: Session) -> list[int]:
    return sorted(session.execute(select(Batch.id).where(Batch.status == BatchStatus.queued)).scalars())


def mark_enqueued(session: Session, batch_ids: list[int]) -> None:
    if batch_ids:
        session.execute(update(Batch).where(Batch.id.in_(batch_ids)).values(enqueued_at=func.now()))


def pending_work(session: Session) -> int:
    """Batches queued or running: zero means a draining worker may stop."""
    return session.execute(
        select(func.count()).select_from(Batch).where(Batch.status.in_([BatchStatus.queued, BatchStatus.running]))
    ).scalar_one()
