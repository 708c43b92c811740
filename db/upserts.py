"""Idempotent writes (`INSERT ... ON CONFLICT`): replaying any of them leaves one row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import (
    Assessment,
    AssessmentStatus,
    Base,
    ModelVersion,
    PhoneDiff,
    PhoneScore,
    WordScore,
    failure_columns,
)
from scoring.assessment import AssessmentResult, ModelOutput


def upsert_model_version(session: Session, name: str, **fields: Any) -> int:
    statement = (
        insert(ModelVersion)
        .values(name=name, **fields)
        .on_conflict_do_update(index_elements=[ModelVersion.name], set_=fields or {"name": name})
        .returning(ModelVersion.id)
    )
    return session.execute(statement).scalar_one()


def _assessment_values(assessment: AssessmentResult) -> dict[str, Any]:
    scores = assessment.scores or {}
    model_output = assessment.detail if isinstance(assessment.detail, ModelOutput) else None
    return {
        "status": AssessmentStatus.scored if assessment.scored else AssessmentStatus.unparseable,
        "accuracy": scores.get("accuracy"),
        "fluency": scores.get("fluency"),
        "prosodic": scores.get("prosodic"),
        "total": scores.get("total"),
        "word_transcript": assessment.word_transcript,
        "phoneme_transcript": assessment.phoneme_transcript,
        "raw_output": model_output.raw if model_output else None,
        "flags": list(assessment.flags),
        "generation_ms": assessment.generation_ms,
        **failure_columns(assessment.failure),
    }


class _AssessmentRows:
    """Rows that belong to an assessment (its phone diff, word or phone scores), keyed by
    (assessment, `key`) and written whole: one upsert of a column array per field, so a batch of
    thousands of rows costs one round trip, then one delete of the rows at or past each
    assessment's new end (its largest key plus one), which a shorter replay leaves behind."""

    def __init__(self, model: type[Base], key: str) -> None:
        table = model.__table__
        self.key = key
        self.columns = [column.name for column in table.columns if not column.primary_key]
        arrays = ", ".join(
            f"CAST(:{column.name} AS {column.type.compile(dialect=postgresql.dialect())}[])"
            for column in table.columns
            if not column.primary_key
        )
        updates = ", ".join(f"{name} = excluded.{name}" for name in self.columns if name not in ("assessment_id", key))
        self._upsert = text(
            f"INSERT INTO {table.name} ({', '.join(self.columns)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT (assessment_id, {key}) DO UPDATE SET {updates}"
        )
        self._trim = text(
            f"DELETE FROM {table.name} t USING unnest(CAST(:ids AS bigint[]), CAST(:ends AS int[])) AS k(id, n) "
            f"WHERE t.assessment_id = k.id AND t.{key} >= k.n"
        )

    def replace(self, session: Session, rows_of: Mapping[int, list[dict[str, Any]]]) -> None:
        """Make each assessment's rows exactly `rows_of[assessment id]` (none for an empty list)."""
        rows = [row for assessment_rows in rows_of.values() for row in assessment_rows]
        if rows:
            session.execute(self._upsert, {name: [row[name] for row in rows] for name in self.columns})
        if rows_of:
            ends = [
                max((row[self.key] + 1 for row in assessment_rows), default=0) for assessment_rows in rows_of.values()
            ]
            session.execute(self._trim, {"ids": list(rows_of), "ends": ends})


_PHONE_DIFFS = _AssessmentRows(PhoneDiff, "position")
_WORD_SCORES = _AssessmentRows(WordScore, "word_index")
_PHONE_SCORES = _AssessmentRows(PhoneScore, "position")


def _diff_rows(assessment_id: int, assessment: AssessmentResult) -> list[dict[str, Any]]:
    rows = assessment.phone_diff.rows() if assessment.phone_diff else []
    return [
        {"assessment_id": assessment_id, "position": position, "word_index": word.index, "word": word.text,
         "expected": edit.expected, "actual": edit.actual, "op": edit.op.value}
        for position, word, edit in rows
    ]  # fmt: skip


def _word_rows(assessment_id: int, assessment: AssessmentResult) -> list[dict[str, Any]]:
    """Words are keyed by their index in the sentence, which may skip unaligned words."""
    return [
        {"assessment_id": assessment_id, "word_index": w.index, "word": w.text, "accuracy": w.accuracy,
         "error_type": w.error_type.value}
        for w in assessment.word_scores
    ]  # fmt: skip


def _phone_rows(assessment_id: int, assessment: AssessmentResult) -> list[dict[str, Any]]:
    return [
        {"assessment_id": assessment_id, "position": position, "word_index": p.word_index, "phone": p.phone,
         "score": p.score, "start_seconds": p.start, "duration_seconds": p.duration, "gop": p.gop, "heard": p.heard}
        for position, p in enumerate(assessment.phone_scores)
    ]  # fmt: skip


def upsert_assessments(
    session: Session, model_version_id: int, assessments: Sequence[tuple[int, AssessmentResult]]
) -> dict[int, int]:
    """Write a batch's assessments with their phone diffs and (engines that score them) word and
    phone scores, in a few statements whatever the batch's size; a replay rewrites the same rows.
    Returns assessment ids by recording id."""
    if not assessments:
        return {}
    statement = insert(Assessment).values(
        [
            {"recording_id": recording_id, "model_version_id": model_version_id, **_assessment_values(a)}
            for recording_id, a in assessments
        ]
    )
    columns = [c for c in _assessment_values(assessments[0][1]) if c != "recording_id"]
    statement = statement.on_conflict_do_update(
        index_elements=[Assessment.recording_id, Assessment.model_version_id],
        set_={**{c: statement.excluded[c] for c in columns}, "updated_at": func.now()},
    ).returning(Assessment.recording_id, Assessment.id)
    ids = dict(session.execute(statement).all())
    written = [(ids[recording_id], a) for recording_id, a in assessments]
    for table, rows_of in ((_PHONE_DIFFS, _diff_rows), (_WORD_SCORES, _word_rows), (_PHONE_SCORES, _phone_rows)):
        table.replace(session, {aid: rows_of(aid, a) for aid, a in written})
    return ids


def upsert_assessment(session: Session, recording_id: int, model_version_id: int, assessment: AssessmentResult) -> int:
    """Write one assessment and its phone diffs; a replay rewrites the same rows."""
    return upsert_assessments(session, model_version_id, [(recording_id, assessment)])[recording_id]
