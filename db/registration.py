"""Registering learners and recordings in a few set-wise statements, idempotently: the one
way either is written, by enqueueing and by ratings imports alike.

The same recording_id with the same content (sha256) is the same recording: enqueued again it
is already known, or corrected when its text, learner, class or date changed (a changed text
queues it again, since its assessment depends on the text). The same id with new content is a
new version. Rows whose audio did not decode are registered as failed, with their failure, and
counted by the caller, not here. A recording registered from a local file (a ratings import)
waits outside any run until its copy reaches the store (an enqueue of the same audio), which
then replaces the local path and queues it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Learner, Recording, RecordingStatus, failure_columns
from scoring.failures import RecordingFailure


@dataclass(frozen=True)
class NewRecording:
    """One row to register; `failure` is set for audio refused at intake."""

    source_id: str
    learner: str
    class_id: str | None
    sha256: str
    storage_uri: str
    reference_text: str
    submitted_at: datetime
    duration_seconds: float | None
    failure: RecordingFailure | None = None


def _in_store(storage_uri: str) -> bool:
    """Whether a recording's audio is in the object store, where workers fetch it."""
    return storage_uri.startswith("s3://")


@dataclass
class ChunkRegistration:
    inserted: int = 0
    new_versions: int = 0
    already_known: int = 0
    corrected: int = 0
    waiting: dict[int, float | None] = field(default_factory=dict)


def upsert_learners(session: Session, learners: dict[str, str | None]) -> dict[str, int]:
    """Learner ids by external id; a learner's class is the one named last."""
    if not learners:
        return {}
    statement = insert(Learner).values([{"external_id": k, "class_id": v} for k, v in learners.items()])
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Learner.external_id],
            set_={"class_id": statement.excluded.class_id},
            where=Learner.class_id.is_distinct_from(statement.excluded.class_id),
        )
    )
    rows = session.execute(select(Learner.external_id, Learner.id).where(Learner.external_id.in_(list(learners))))
    return dict(rows.all())


def _changes(known: Recording, row: NewRecording, learner_id: int) -> dict[str, Any]:
    """The fields a row corrects: its learner, class, text or date differ from the known recording's."""
    wanted = {
        "learner_id": learner_id,
        "class_id": row.class_id,
        "reference_text": row.reference_text,
        "submitted_at": row.submitted_at,
    }
    return {name: value for name, value in wanted.items() if getattr(known, name) != value}


def register_chunk(
    session: Session, rows: Sequence[NewRecording], run_id: Callable[[], int | None]
) -> ChunkRegistration:
    """Register `rows` (distinct recording ids); `run_id()` names the run (None for none),
    created on first need so that a chunk of known recordings makes no run. Recordings in the
    store and queued for scoring end in `waiting`, to be batched by the caller."""
    outcome = ChunkRegistration()
    learners = upsert_learners(session, {row.learner: row.class_id for row in rows})
    known_rows = session.execute(
        select(Recording).where(Recording.source_id.in_([row.source_id for row in rows])).with_for_update()
    ).scalars()
    versions: dict[str, dict[str, Recording]] = {}
    for recording in known_rows:
        versions.setdefault(recording.source_id, {})[recording.sha256] = recording
    fresh = []
    for row in rows:
        known = versions.get(row.source_id, {}).get(row.sha256)
        if known is None:
            fresh.append(row)
            outcome.new_versions += row.source_id in versions and row.failure is None
            continue
        _update_known(session, known, row, learners[row.learner], outcome, run_id)
    if fresh:
        _insert(session, fresh, learners, run_id(), outcome)
    return outcome


def _update_known(
    session: Session,
    known: Recording,
    row: NewRecording,
    learner_id: int,
    outcome: ChunkRegistration,
    run_id: Callable[[], int | None],
) -> None:
    changes = _changes(known, row, learner_id)
    if _in_store(row.storage_uri) and not _in_store(known.storage_uri):
        # Registered from a local path by a ratings import; its copy is in the store now.
        changes |= {"storage_uri": row.storage_uri, "duration_seconds": row.duration_seconds}
    in_store = _in_store(changes.get("storage_uri", known.storage_uri))
    rescore = "reference_text" in changes and in_store
    never_batched = known.status == RecordingStatus.queued and known.batch_id is None and in_store
    if rescore or never_batched:
        changes |= {
            "status": RecordingStatus.queued,
            "batch_id": None,
            "attempts": 0,
            "run_id": run_id(),
            **failure_columns(None),
        }
        outcome.waiting[known.id] = changes.get("duration_seconds", known.duration_seconds)
    if changes:
        session.execute(update(Recording).where(Recording.id == known.id).values(**changes))
    if row.failure:  # counted as failed at intake, however often it is sent
        return
    if {"learner_id", "class_id", "reference_text", "submitted_at"} & changes.keys():
        outcome.corrected += 1
    else:
        outcome.already_known += 1


def _insert(
    session: Session,
    rows: Sequence[NewRecording],
    learners: dict[str, int],
    run_id: int | None,
    outcome: ChunkRegistration,
) -> None:
    values = [
        {
            "source_id": row.source_id,
            "sha256": row.sha256,
            "learner_id": learners[row.learner],
            "class_id": row.class_id,
            "storage_uri": row.storage_uri,
            "reference_text": row.reference_text,
            "submitted_at": row.submitted_at,
            "duration_seconds": row.duration_seconds,
            "run_id": run_id,
            "status": RecordingStatus.failed if row.failure else RecordingStatus.queued,
            "attempts": 0,
            **failure_columns(row.failure),
        }
        for row in rows
    ]
    statement = insert(Recording).values(values).on_conflict_do_nothing(index_elements=["source_id", "sha256"])
    returned = Recording.id, Recording.status, Recording.duration_seconds, Recording.storage_uri
    queued = [row for row in session.execute(statement.returning(*returned)) if row.status == RecordingStatus.queued]
    outcome.waiting |= {row.id: row.duration_seconds for row in queued if _in_store(row.storage_uri)}
    outcome.inserted += len(queued)
    # A row another enqueue registered meanwhile is a known one.
    outcome.already_known += sum(row.failure is None for row in rows) - len(queued)
