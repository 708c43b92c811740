"""Evaluation inside the database: a model version against a human rater on the recordings
both assessed. The rater's phone diffs give the canonical phones and what the rater heard."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from db.models import Assessment, AssessmentStatus, ModelVersion, PhoneDiff, Recording
from scoring.phones import split_phones
from scoring.scores import SCORE_ASPECTS
from training.evaluate import Reference


class NothingToCompare(LookupError):
    pass


def paired_from_database(session: Session, model: str, rater: str) -> tuple[list[Reference], dict[str, dict[str, Any]]]:
    human, machine = aliased(Assessment), aliased(Assessment)
    human_version, machine_version = aliased(ModelVersion), aliased(ModelVersion)
    rows = session.execute(
        select(Recording.source_id, human, machine, machine_version.task_format)
        .join(human, human.recording_id == Recording.id)
        .join(human_version, (human_version.id == human.model_version_id) & (human_version.name == rater))
        .join(machine, machine.recording_id == Recording.id)
        .join(machine_version, (machine_version.id == machine.model_version_id) & (machine_version.name == model))
        .where(human.status == AssessmentStatus.scored)
        .order_by(Recording.source_id)
    ).all()
    if not rows:
        raise NothingToCompare(f"no recording is assessed by both {model!r} and {rater!r}")
    canonical: dict[int, list[str]] = defaultdict(list)
    for assessment_id, expected in session.execute(
        select(PhoneDiff.assessment_id, PhoneDiff.expected)
        .where(PhoneDiff.assessment_id.in_([h.id for _, h, _, _ in rows]), PhoneDiff.expected.is_not(None))
        .order_by(PhoneDiff.assessment_id, PhoneDiff.position)
    ):
        canonical[assessment_id].append(expected)
    references, predictions = [], {}
    for source_id, h, m, task_format in rows:
        references.append(
            Reference(
                key=source_id,
                scores={aspect: getattr(h, aspect) for aspect in SCORE_ASPECTS},
                words=h.word_transcript or "",
                canonical=canonical[h.id],
                annotated=split_phones(h.phoneme_transcript or ""),
            )
        )
        scored = m.status == AssessmentStatus.scored
        predictions[source_id] = {
            "status": "scored" if scored else "failed",
            "scores": {aspect: getattr(m, aspect) for aspect in SCORE_ASPECTS} if scored else None,
            "word_transcript": m.word_transcript,
            "phoneme_transcript": m.phoneme_transcript,
            "model": {"task_format": task_format},
        }
    return references, predictions
