"""Idempotent writes (`INSERT ... ON CONFLICT`): replaying any of them leaves one row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Assessment, AssessmentStatus, ModelVersion, failure_columns
from scoring.assessment import AssessmentResult


def upsert_model_version(session: Session, name: str, **fields: Any) -> int:
    statement = (
        insert(ModelVersion)
        .values(name=name, **fields)
        .on_conflict_do_update(index_elements=[ModelVersion.name], set_=fields or {"name": name})
        .returning(ModelVersion.id)
    )
    return session.execute(statement).scalar_one()


def _assessment_values(assessment: AssessmentResult) -> dict[str, Any]:
    answer = assessment.answer
    return {
        "status": AssessmentStatus.scored if answer else AssessmentStatus.unparseable,
        "accuracy": answer.scores["accuracy"] if answer else None,
        "fluency": answer.scores["fluency"] if answer else None,
        "prosodic": answer.scores["prosodic"] if answer else None,
        "total": answer.scores["total"] if answer else None,
        "word_transcript": answer.word_transcript if answer else None,
        "phoneme_transcript": answer.phoneme_transcript if answer else None,
        "raw_output": assessment.raw_output,
        "flags": list(assessment.flags),
        "generation_ms": assessment.generation_ms,
        **failure_columns(assessment.failure),
    }


def _diff_rows(assessment_id: int, assessment: AssessmentResult) -> list[dict[str, Any]]:
    rows = assessment.phone_diff.rows() if assessment.phone_diff else []
    return [
        {
            "assessment_id": assessment_id,
            "position": position,
            "word_index": word.index,
            "word": word.text,
            "expected": edit.expected,
            "actual": edit.actual,
            "op": edit.op,
        }
        for position, word, edit in rows
    ]


def upsert_assessments(
    session: Session, model_version_id: int, assessments: Sequence[tuple[int, AssessmentResult]]
) -> dict[int, int]:
    """Write a batch's assessments and phone diffs in three statements; a replay rewrites the
    same rows. Returns assessment ids by recording id."""
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
    per_assessment = {ids[recording_id]: _diff_rows(ids[recording_id], a) for recording_id, a in assessments}
    rows = [row for diff_rows in per_assessment.values() for row in diff_rows]
    upsert_phone_diffs(session, rows, {aid: len(diff_rows) for aid, diff_rows in per_assessment.items()})
    upsert_word_and_phone_scores(session, [(ids[recording_id], a) for recording_id, a in assessments])
    return ids


def upsert_assessment(session: Session, recording_id: int, model_version_id: int, assessment: AssessmentResult) -> int:
    """Write one assessment and its phone diffs; a replay rewrites the same rows."""
    return upsert_assessments(session, model_version_id, [(recording_id, assessment)])[recording_id]


_UPSERT_DIFFS = text(
    """
    INSERT INTO phone_diffs (assessment_id, position, word_index, word, expected, actual, op)
    SELECT * FROM unnest(
        CAST(:assessment_id AS bigint[]), CAST(:position AS int[]), CAST(:word_index AS int[]),
        CAST(:word AS text[]), CAST(:expected AS text[]), CAST(:actual AS text[]), CAST(:op AS diff_op[])
    )
    ON CONFLICT (assessment_id, position) DO UPDATE SET
        word_index = excluded.word_index, word = excluded.word, expected = excluded.expected,
        actual = excluded.actual, op = excluded.op
    """
)
_DROP_STALE_DIFFS = text(
    "DELETE FROM phone_diffs d USING unnest(CAST(:ids AS bigint[]), CAST(:lengths AS int[])) AS k(id, n) "
    "WHERE d.assessment_id = k.id AND d.position >= k.n"
)
_DIFF_COLUMNS = ("assessment_id", "position", "word_index", "word", "expected", "actual", "op")


def upsert_phone_diffs(session: Session, rows: Sequence[dict[str, Any]], lengths: dict[int, int]) -> None:
    """Make each assessment's diff rows exactly `rows`: upsert by (assessment, position), then
    drop positions beyond each assessment's new length (`lengths`). One statement each, with a
    column array per field, so a batch of thousands of rows costs two round trips."""
    if rows:
        columns = {name: [row[name] for row in rows] for name in _DIFF_COLUMNS}
        columns["op"] = [op.value for op in columns["op"]]
        session.execute(_UPSERT_DIFFS, columns)
    if lengths:
        session.execute(_DROP_STALE_DIFFS, {"ids": list(lengths), "lengths": list(lengths.values())})


_UPSERT_WORD_SCORES = text(
    """
    INSERT INTO word_scores (assessment_id, word_index, word, accuracy, error_type)
    SELECT * FROM unnest(
        CAST(:assessment_id AS bigint[]), CAST(:word_index AS int[]), CAST(:word AS text[]),
        CAST(:accuracy AS float8[]), CAST(:error_type AS text[])
    )
    ON CONFLICT (assessment_id, word_index) DO UPDATE SET
        word = excluded.word, accuracy = excluded.accuracy, error_type = excluded.error_type
    """
)
_UPSERT_PHONE_SCORES = text(
    """
    INSERT INTO phone_scores (assessment_id, position, word_index, phone, score, start_seconds,
                              duration_seconds, gop, heard)
    SELECT * FROM unnest(
        CAST(:assessment_id AS bigint[]), CAST(:position AS int[]), CAST(:word_index AS int[]),
        CAST(:phone AS text[]), CAST(:score AS float8[]), CAST(:start_seconds AS float8[]),
        CAST(:duration_seconds AS float8[]), CAST(:gop AS float8[]), CAST(:heard AS text[])
    )
    ON CONFLICT (assessment_id, position) DO UPDATE SET
        word_index = excluded.word_index, phone = excluded.phone, score = excluded.score,
        start_seconds = excluded.start_seconds, duration_seconds = excluded.duration_seconds,
        gop = excluded.gop, heard = excluded.heard
    """
)
_DROP_STALE = {
    table: text(
        f"DELETE FROM {table} t USING unnest(CAST(:ids AS bigint[]), CAST(:lengths AS int[])) AS k(id, n) "
        f"WHERE t.assessment_id = k.id AND t.{key} >= k.n"
    )
    for table, key in (("word_scores", "word_index"), ("phone_scores", "position"))
}


def _columns(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def upsert_word_and_phone_scores(session: Session, assessments: Sequence[tuple[int, AssessmentResult]]) -> None:
    """Make each assessment's word and phone scores exactly its result's (none for engines
    that do not score words): upsert by key, then drop rows past each new length. Words are
    keyed by their index in the sentence, which may skip unaligned words, so stale words are
    those at or past one more than the last index."""
    words = [
        {"assessment_id": aid, "word_index": w.index, "word": w.text, "accuracy": w.accuracy,
         "error_type": w.error_type.value}
        for aid, a in assessments for w in a.word_scores
    ]  # fmt: skip
    phones = [
        {"assessment_id": aid, "position": position, "word_index": p.word_index, "phone": p.phone,
         "score": p.score, "start_seconds": p.start, "duration_seconds": p.duration, "gop": p.gop, "heard": p.heard}
        for aid, a in assessments for position, p in enumerate(a.phone_scores)
    ]  # fmt: skip
    if words:
        session.execute(_UPSERT_WORD_SCORES, _columns(words))
    if phones:
        session.execute(_UPSERT_PHONE_SCORES, _columns(phones))
    ids = [aid for aid, _ in assessments]
    word_ends = [max((w.index + 1 for w in a.word_scores), default=0) for _, a in assessments]
    session.execute(_DROP_STALE["word_scores"], {"ids": ids, "lengths": word_ends})
    session.execute(_DROP_STALE["phone_scores"], {"ids": ids, "lengths": [len(a.phone_scores) for _, a in assessments]})
