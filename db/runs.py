"""Runs: a night's enqueued recordings under one name, their bookkeeping, and where they stand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Batch, BatchStatus, Learner, Recording, RecordingStatus, Run


class UnknownRun(LookupError):
    pass


def find_run(session: Session, run: str | None = None) -> Run:
    """A run by its name or, when no run has that name, by its id (what `enqueue` printed);
    None means the newest run."""
    if run is None:
        found = session.execute(select(Run).order_by(Run.created_at.desc(), Run.id.desc()).limit(1)).scalar()
        if found is None:
            raise UnknownRun("no runs yet; enqueue a manifest first")
        return found
    found = session.execute(select(Run).where(Run.name == run)).scalar_one_or_none()
    if found is None and run.isdigit() and int(run) < 2**63:
        found = session.get(Run, int(run))
    if found is None:
        raise UnknownRun(f"no run named {run!r} and none with that id; `pronscore report run-summary` lists them")
    return found


def get_or_create_run(session: Session, name: str) -> int:
    run_id = session.execute(select(Run.id).where(Run.name == name)).scalar_one_or_none()
    if run_id is None:
        run = Run(name=name)
        session.add(run)
        session.flush()
        run_id = run.id
    return run_id


def record_batch_done(session: Session, run_id: int, model_version_id: int) -> None:
    """After a batch of the run is done: the run remembers the model version that scored it
    first, and is finished once none of its batches is left."""
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


@dataclass(frozen=True)
class BatchProgress:
    """A running batch: chunks scored so far of its chunks (None until the worker planned them)."""

    batch_id: int
    chunks_done: int
    chunks_total: int | None


@dataclass
class RunStatus:
    run: str
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    audio_seconds_done: float = 0.0
    audio_seconds_left: float = 0.0
    recordings_per_second: float | None = None
    seconds_left: float | None = None
    running: list[BatchProgress] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return self.counts.get("scored", 0) + self.counts.get("failed", 0)

    @property
    def remaining(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("scoring", 0)


def run_status(session: Session, run: str | None = None) -> RunStatus:
    """The run of that name or id, or the newest one.

    Its rate is recordings finished (scored or failed) per second from its first batch's
    start to its last batch's end: the same figure as the run-summary report.
    """
    found = find_run(session, run)
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
    for state, seconds in session.execute(
        select(Batch.status, func.sum(Batch.audio_seconds)).where(Batch.run_id == found.id).group_by(Batch.status)
    ):
        if state == BatchStatus.done:
            status.audio_seconds_done += float(seconds or 0.0)
        else:
            status.audio_seconds_left += float(seconds or 0.0)
    status.running = [
        BatchProgress(*row)
        for row in session.execute(
            select(Batch.id, Batch.chunks_done, Batch.chunks_total)
            .where(Batch.run_id == found.id, Batch.status == BatchStatus.running)
            .order_by(Batch.id)
        )
    ]
    started, last = session.execute(
        select(func.min(Batch.started_at), func.max(Batch.finished_at)).where(Batch.run_id == found.id)
    ).one()
    if started is not None and last is not None and last > started and status.finished:
        status.recordings_per_second = status.finished / (last - started).total_seconds()
        status.seconds_left = status.remaining / status.recordings_per_second
    return status


@dataclass(frozen=True)
class FailedRecording:
    recording_id: str
    learner_id: str
    class_id: str | None
    reason: str | None
    detail: str | None
    attempts: int
    failed_at: datetime


def failed_recordings(session: Session, run_id: int) -> list[FailedRecording]:
    """The run's failed recordings with their reason and the error's detail, by reason then id."""
    rows = session.execute(
        select(
            Recording.source_id,
            Learner.external_id,
            Recording.class_id,
            Recording.failure_reason,
            Recording.failure_detail,
            Recording.attempts,
            Recording.updated_at,
        )
        .join(Learner, Learner.id == Recording.learner_id)
        .where(Recording.run_id == run_id, Recording.status == RecordingStatus.failed)
        .order_by(Recording.failure_reason, Recording.source_id, Recording.id)
    )
    return [FailedRecording(*row) for row in rows]
