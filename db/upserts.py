"""Idempotent writes (`INSERT ... ON CONFLICT`): replaying any of them leaves one row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import (
    Assessment,
    AssessmentStatus,
    DiffOp,
    Learner,
    ModelVersion,
    PhoneDiff,
    Recording,
)
from scoring.assessment import Assessment as DomainAssessment


def upsert_learner(session: Session, external_id: str, class_id: str | None) -> int:
    statement = (
        insert(Learner)
        .values(external_id=external_id, class_id=class_id)
        .on_conflict_do_update(index_elements=[Learner.external_id], set_={"class_id": class_id})
        .returning(Learner.id)
    )
    return session.execute(statement).scalar_one()


def upsert_model_version(session: Session, name: str, **fields: Any) -> int:
    statement = (
        insert(ModelVersion)
        .values(name=name, **fields)
        .on_conflict_do_update(index_elements=[ModelVersion.name], set_=fields or {"name": name})
        .returning(ModelVersion.id)
    )
    return session.execute(statement).scalar_one()


def upsert_recording(
    session: Session,
    *,
    source_id: str,
    sha256: str,
    learner_id: int,
    class_id: str | None,
    storage_uri: str,
    reference_text: str,
    submitted_at: datetime,
    duration_seconds: float | None,
    run_id: int | None = None,
) -> tuple[int, bool]:
    """Register a recording version; returns its id and whether it is new.

    The same source id with the same content is the same recording; new content is a new
    version. A known recording keeps its status, run and history.
    """
    statement = insert(Recording).values(
        source_id=source_id,
        sha256=sha256,
        learner_id=learner_id,
        class_id=class_id,
        storage_uri=storage_uri,
        reference_text=reference_text,
        submitted_at=submitted_at,
        duration_seconds=duration_seconds,
        run_id=run_id,
    )
    # A copy in the object store supersedes a local path recorded earlier (by a ratings import).
    keep_stored = case(
        (Recording.storage_uri.like("s3://%"), Recording.storage_uri),
        else_=statement.excluded.storage_uri,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Recording.source_id, Recording.sha256],
        set_={
            "storage_uri": keep_stored,
            "duration_seconds": func.coalesce(Recording.duration_seconds, statement.excluded.duration_seconds),
        },
    ).returning(Recording.id, literal_column("xmax = 0"))
    recording_id, inserted = session.execute(statement).one()
    return recording_id, inserted


def upsert_assessment(session: Session, recording_id: int, model_version_id: int, assessment: DomainAssessment) -> int:
    """Write one assessment and its phone diffs; a replay rewrites the same rows."""
    answer = assessment.answer
    values: dict[str, Any] = {
        "status": AssessmentStatus.scored if answer else AssessmentStatus.unparseable,
        "accuracy": answer.scores["accuracy"] if answer else None,
        "fluency": answer.scores["fluency"] if answer else None,
        "prosodic": answer.scores["prosodic"] if answer else None,
        "total": answer.scores["total"] if answer else None,
        "word_transcript": answer.word_transcript if answer else None,
        "phoneme_transcript": answer.phoneme_transcript if answer else None,
        "raw_output": assessment.raw_output,
        "flags": {"flags": list(assessment.flags), "failure": assessment.failure},
        "generation_ms": assessment.generation_ms,
    }
    statement = (
        insert(Assessment)
        .values(recording_id=recording_id, model_version_id=model_version_id, **values)
        .on_conflict_do_update(
            index_elements=[Assessment.recording_id, Assessment.model_version_id],
            set_={**values, "updated_at": func.now()},
        )
        .returning(Assessment.id)
    )
    assessment_id = session.execute(statement).scalar_one()
    rows = assessment.phone_diff.rows() if assessment.phone_diff else []
    upsert_phone_diffs(
        session,
        assessment_id,
        [
            {
                "position": position,
                "word_index": word.index,
                "word": word.text,
                "expected": edit.expected,
                "actual": edit.actual,
                "op": DiffOp(edit.op.value),
            }
            for position, word, edit in rows
        ],
    )
    return assessment_id


def upsert_phone_diffs(session: Session, assessment_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Make the assessment's diff rows exactly `rows`: update by position, drop any beyond."""
    if rows:
        statement = insert(PhoneDiff).values([{"assessment_id": assessment_id, **row} for row in rows])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[PhoneDiff.assessment_id, PhoneDiff.position],
                set_={name: statement.excluded[name] for name in ("word_index", "word", "expected", "actual", "op")},
            )
        )
    session.execute(delete(PhoneDiff).where(PhoneDiff.assessment_id == assessment_id, PhoneDiff.position >= len(rows)))
