"""Where a run stands: recordings by status and failure reason, throughput, time left."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Batch, Recording, RecordingStatus, Run


class UnknownRun(LookupError):
    pass


@dataclass
class RunStatus:
    run: str
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    recordings_per_second: float | None = None
    seconds_left: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("scoring", 0)


def run_status(session: Session, run: str | None = None) -> RunStatus:
    """The named run, or the newest one."""
    query = select(Run).order_by(Run.created_at.desc(), Run.id.desc()).limit(1)
    if run is not None:
        query = select(Run).where(Run.name == run)
    found = session.execute(query).scalar_one_or_none()
    if found is None:
        raise UnknownRun(f"no run named {run!r}" if run else "no runs yet; enqueue a manifest first")
    status = RunStatus(run=found.name, counts={s.value: 0 for s in RecordingStatus})
    for state, count in session.execute(
        select(Recording.status, func.count()).where(Recording.run_id == found.id).group_by(Recording.status)
    ):
        status.counts[state.value] = count
    status.failures = dict(
        session.execute(
            select(Recording.failure_reason, func.count())
            .where(Recording.run_id == found.id, Recording.status == RecordingStatus.failed)
            .group_by(Recording.failure_reason)
            .order_by(Recording.failure_reason)
        ).all()
    )
    started, last = session.execute(
        select(func.min(Batch.started_at), func.max(Batch.finished_at)).where(Batch.run_id == found.id)
    ).one()
    done = status.counts["scored"] + status.counts["failed"]
    if started is not None and last is not None and last > started and done:
        status.recordings_per_second = done / (last - started).total_seconds()
        status.seconds_left = status.remaining / status.recordings_per_second
    return status
