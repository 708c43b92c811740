"""Import expert or teacher ratings (speechocean762 JSON Lines form) as assessments of `human:NAME`.

Each line may also name `recording_id` (default: the corpus's `utt`), `learner_id` (default:
`speaker`), `class_id` and `submitted_at`. A rating for a recording not yet registered
registers it from its `audio` path, resolved against the ratings file's folder, so that model
scores of the same audio land on the same recording and reports can compare the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Recording
from db.registration import NewRecording, register_chunk
from db.upserts import upsert_assessment, upsert_model_version
from producer.intake import content_hash
from producer.manifest import RowError, RowRules, parse_submitted_at
from pronscore.settings import get_settings
from scoring.assessment import AssessmentResult
from scoring.mdd import diff
from scoring.speechocean import LabelError, RatedUtterance, parse_utterance

HUMAN_PREFIX = "human:"


@dataclass
class RatingsImport:
    imported: int = 0
    registered: int = 0
    errors: list[RowError] = field(default_factory=list)


def human_assessment(utterance: RatedUtterance) -> AssessmentResult:
    """A rater's labels in the same shape as a model's answer, with the annotated phone diff."""
    pronounced = [p for word in utterance.words for p in word.pronounced_phones()]
    return AssessmentResult(
        scores=dict(utterance.scores),
        word_transcript=utterance.word_transcript,
        phoneme_transcript=utterance.phoneme_transcript,
        phone_diff=diff(utterance.word_entries(), pronounced),
    )


def _parse_time(value: object) -> datetime:
    if value is None:
        return datetime.now(UTC)
    parsed = parse_submitted_at(str(value), RowRules.from_settings(get_settings()))
    if isinstance(parsed, str):
        raise LabelError(parsed)
    return parsed


def _recording_for(session: Session, record: dict, utterance: RatedUtterance, base: Path) -> tuple[int, bool]:
    """The rated recording's id (its latest version when known), and whether it is new: one
    not yet registered is registered from its local file, through the same path as enqueueing,
    outside any run until it is enqueued."""
    source_id = str(record.get("recording_id") or utterance.utt)
    existing = session.execute(
        select(Recording.id).where(Recording.source_id == source_id).order_by(Recording.id.desc()).limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    audio = (base / utterance.audio) if utterance.audio else None
    if audio is None or not audio.is_file():
        raise LabelError(f"recording {source_id!r} is not registered and its audio {utterance.audio!r} is missing")
    with audio.open("rb") as handle:
        sha256 = content_hash(handle)
    row = NewRecording(
        source_id=source_id,
        learner=str(record.get("learner_id") or utterance.speaker),
        class_id=record.get("class_id"),
        sha256=sha256,
        storage_uri=audio.resolve().as_uri(),
        reference_text=utterance.text,
        submitted_at=_parse_time(record.get("submitted_at")),
        duration_seconds=None,
    )
    registration = register_chunk(session, [row], run_id=lambda: None)
    registered = select(Recording.id).where(Recording.source_id == source_id, Recording.sha256 == sha256)
    return session.execute(registered).scalar_one(), registration.inserted == 1


def import_ratings(session: Session, path: Path, rater: str) -> RatingsImport:
    """Import every good line; each bad line is reported by number and changes nothing."""
    if not rater or any(c.isspace() for c in rater):
        raise ValueError("the rater name must be a non-empty word, e.g. 'expert' or 'teacher-kim'")
    model_version_id = upsert_model_version(session, HUMAN_PREFIX + rater, is_human=True)
    outcome = RatingsImport()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            savepoint = session.begin_nested()
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise LabelError("not a JSON object")
                utterance = parse_utterance(record)
                recording_id, registered = _recording_for(session, record, utterance, path.parent)
                upsert_assessment(session, recording_id, model_version_id, human_assessment(utterance))
            except (json.JSONDecodeError, LabelError, ValueError) as error:
                savepoint.rollback()
                outcome.errors.append(RowError(number, str(error)))
                continue
            savepoint.commit()
            outcome.imported += 1
            outcome.registered += registered
    return outcome
