"""What one recording got wrong: its scores and, per word, the expected and heard phones.

Read from the `recording-feedback` report (the `report_recording_feedback` view), the same rows
the read-only role sees, plus the recording's own status for one not (or not yet) assessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Learner, Recording
from db.reports import ReportFilters, run_report
from scoring.scores import SCORE_ASPECTS


class UnknownRecording(LookupError):
    pass


@dataclass(frozen=True)
class WordFeedback:
    index: int
    text: str
    expected: list[str]
    heard: list[str]
    errors: int
    marked_errors: str
    ops: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "text": self.text, "expected": self.expected, "actual": self.heard,
                "ops": self.ops, "errors": self.errors}  # fmt: skip


@dataclass
class AssessmentFeedback:
    model: str
    is_human: bool
    meaningless: bool
    status: str
    scores: dict[str, int | None]
    word_transcript: str | None
    phoneme_transcript: str | None
    words: list[WordFeedback] = field(default_factory=list)


@dataclass
class RecordingFeedback:
    recording_id: str
    learner_id: str
    class_id: str | None
    text: str
    submitted_at: datetime
    status: str
    failure_reason: str | None
    detail: str | None
    assessments: list[AssessmentFeedback] = field(default_factory=list)

    def to_dict(self, model: str | None = None) -> dict[str, Any]:
        """The assessment JSON of one model version (default: the newest machine model's, else
        the first rater's), with the recording's status; no assessment gives empty fields."""
        chosen = next((a for a in self.assessments if model in (None, a.model)), None)
        return {
            "recording_id": self.recording_id,
            "learner_id": self.learner_id,
            "class_id": self.class_id,
            "text": self.text,
            "submitted_at": self.submitted_at.isoformat(),
            "status": self.status,
            "reason": self.failure_reason,
            "detail": self.detail,
            "model": chosen and {"name": chosen.model, "human": chosen.is_human, "meaningless": chosen.meaningless},
            "scores": chosen and chosen.scores,
            "word_transcript": chosen and chosen.word_transcript,
            "phoneme_transcript": chosen and chosen.phoneme_transcript,
            "words": [w.to_dict() for w in chosen.words] if chosen else [],
        }


def recording_feedback(session: Session, recording_id: str, model: str | None = None) -> RecordingFeedback:
    """The newest version of the recording with each of its assessments (or only `model`'s)."""
    newest = session.execute(
        select(Recording, Learner.external_id)
        .join(Learner, Learner.id == Recording.learner_id)
        .where(Recording.source_id == recording_id)
        .order_by(Recording.created_at.desc(), Recording.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        raise UnknownRecording(f"no recording with id {recording_id!r}")
    recording, learner = newest
    feedback = RecordingFeedback(
        recording_id=recording.source_id,
        learner_id=learner,
        class_id=recording.class_id,
        text=recording.reference_text,
        submitted_at=recording.submitted_at,
        status=recording.status.value,
        failure_reason=recording.failure_reason,
        detail=recording.failure_detail,
    )
    by_model: dict[str, AssessmentFeedback] = {}
    rows = run_report(session, "recording-feedback", ReportFilters(recording_id=recording_id, model=model)).rows
    for row in rows:
        assessment = by_model.get(row["model"])
        if assessment is None:
            assessment = by_model[row["model"]] = AssessmentFeedback(
                model=row["model"],
                is_human=row["is_human"],
                meaningless=row["meaningless"],
                status=row["assessment_status"],
                scores={aspect: row[aspect] for aspect in SCORE_ASPECTS},
                word_transcript=row["word_transcript"],
                phoneme_transcript=row["phoneme_transcript"],
            )
            feedback.assessments.append(assessment)
        if row["word_index"] is not None:
            assessment.words.append(
                WordFeedback(
                    index=row["word_index"],
                    text=row["word"],
                    expected=(row["expected"] or "").split(),
                    heard=(row["heard"] or "").split(),
                    errors=row["errors"],
                    marked_errors=row["marked_errors"] or "",
                    ops=row["ops"],
                )
            )
    return feedback
