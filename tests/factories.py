"""Builders for hand-made rows, through the same writes the product uses, and for audio."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Recording, RecordingStatus
from db.registration import NewRecording, register_chunk
from db.upserts import upsert_assessment, upsert_model_version
from engines.base import EngineVersion
from engines.phi4mm.version import Phi4Version
from scoring.assessment import AssessmentResult, ModelOutput
from scoring.failures import FailureReason, RecordingFailure
from scoring.lexicon import WordEntry
from scoring.mdd import diff
from scoring.scores import SCORE_ASPECTS


def add_recording(
    session: Session,
    source_id: str,
    learner: str,
    class_id: str | None,
    submitted_at: datetime,
    *,
    run_id: int | None = None,
    duration: float | None = 3.0,
    status: RecordingStatus = RecordingStatus.queued,
    failure_reason: str | None = None,
    take: str | None = None,
    reference_text: str = "TEXT",
) -> int:
    """A recording's row; `take` names another audio version of the same recording id."""
    key = source_id if take is None else f"{source_id}-{take}"
    row = NewRecording(
        source_id=source_id,
        learner=learner,
        class_id=class_id,
        sha256=f"sha-{key}",
        storage_uri=f"s3://bucket/{key}",
        reference_text=reference_text,
        submitted_at=submitted_at,
        duration_seconds=duration,
    )
    register_chunk(session, [row], run_id=lambda: run_id)
    recording_id = session.execute(
        select(Recording.id).where(Recording.source_id == source_id, Recording.sha256 == row.sha256)
    ).scalar_one()
    session.execute(
        update(Recording).where(Recording.id == recording_id).values(status=status, failure_reason=failure_reason)
    )
    return recording_id


def scored(
    scores: Sequence[int],
    words: Sequence[tuple[str, str]] = (),
    heard: str = "",
) -> AssessmentResult:
    """An assessment with the given (accuracy, fluency, prosodic, total), reference words
    given as (text, canonical phones) and the phones heard."""
    entries = [WordEntry(text, (tuple(phones.split()),)) for text, phones in words]
    return AssessmentResult(
        scores=dict(zip(SCORE_ASPECTS, scores, strict=True)),
        word_transcript=" ".join(text for text, _ in words),
        phoneme_transcript=heard,
        phone_diff=diff(entries, heard.split()),
        detail=ModelOutput("{}"),
    )


def unparseable() -> AssessmentResult:
    failure = RecordingFailure(FailureReason.unparseable_output, "missing accuracy")
    return AssessmentResult(failure=failure, detail=ModelOutput("I think it sounds fine."))


def add_assessment(session: Session, recording_id: int, model: str, assessment: AssessmentResult) -> int:
    return upsert_assessment(session, recording_id, upsert_model_version(session, model), assessment)


def sparse_wav(path: Path, seconds: float, rate: int = 16_000) -> Path:
    """A 16-bit mono WAV of `seconds` of silence whose samples are a hole in the file: hours
    of audio written in no time and taking no disk."""
    size = int(seconds * rate) * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)  # PCM, mono, 16-bit
    header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " + fmt + b"data" + struct.pack("<I", size)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + size)
    return path


def fake_version(name: str, *, meaningless: bool = False) -> EngineVersion:
    """The version of a test engine that answers in the joint-v1 format."""
    return EngineVersion(name, name, name, None, None, {}, Phi4Version("joint-v1", "float32", "fast"), meaningless)
