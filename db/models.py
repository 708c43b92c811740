"""The PostgreSQL schema as typed SQLAlchemy 2 models.

Every write the pipeline makes is keyed so that replaying it is harmless: recordings on
(source id, content hash), assessments on (recording, model version), phone diffs on
(assessment, position).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from scoring.alignment import Op
from scoring.failures import RecordingFailure

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSONB}  # noqa: RUF012


class RecordingStatus(enum.StrEnum):
    queued = "queued"
    scoring = "scoring"
    scored = "scored"
    failed = "failed"


class BatchStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"


class AssessmentStatus(enum.StrEnum):
    scored = "scored"
    unparseable = "unparseable"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, name=name, values_callable=lambda k: [m.value for m in k])


def _created() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


class FailureColumns:
    """The two columns a `RecordingFailure` is stored in, by recordings and assessments alike."""

    failure_reason: Mapped[str | None] = mapped_column(Text)  # a scoring.failures.FailureReason
    failure_detail: Mapped[str | None] = mapped_column(Text)


def failure_columns(failure: RecordingFailure | None) -> dict[str, str | None]:
    """A failure as the values of its columns; None clears them."""
    if failure is None:
        return {"failure_reason": None, "failure_detail": None}
    return {"failure_reason": failure.reason.value, "failure_detail": failure.detail}


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True)
    class_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class ModelVersion(Base):
    """What produced an assessment: a base model, an adapter, a task format and decoding
    settings, or a human rater (`human:NAME`)."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    is_human: Mapped[bool] = mapped_column(Boolean, default=False)
    base_model: Mapped[str | None] = mapped_column(Text)
    base_revision: Mapped[str | None] = mapped_column(Text)
    adapter_sha256: Mapped[str | None] = mapped_column(Text)
    task_format: Mapped[str | None] = mapped_column(Text)
    decoding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meaningless: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    created_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None]


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (Index(None, "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    status: Mapped[BatchStatus] = mapped_column(_enum(BatchStatus, "batch_status"), default=BatchStatus.queued)
    audio_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chunks_total: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()


class Worker(Base):
    """A worker process that holds or may hold leases, by the name it holds them under. It
    beats (`seen_at`) every third of the lease while it lives; `connected_since` is where its
    current unbroken stretch of beats began. A claim reads both to tell a holder that died from
    one that could not reach the database either (`db/batches.py`)."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    seen_at: Mapped[datetime]
    connected_since: Mapped[datetime]


class Recording(FailureColumns, Base):
    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("source_id", "sha256"),
        Index(None, "learner_id", "submitted_at"),
        Index(None, "class_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"))
    class_id: Mapped[str | None] = mapped_column(Text)
    storage_uri: Mapped[str] = mapped_column(Text)
    reference_text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    status: Mapped[RecordingStatus] = mapped_column(
        _enum(RecordingStatus, "recording_status"), default=RecordingStatus.queued
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    learner: Mapped[Learner] = relationship()


class Assessment(FailureColumns, Base):
    """A model's (or rater's) answer for a recording; one it could not read is kept, `unparseable`,
    with its failure."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("recording_id", "model_version_id"),
        CheckConstraint("(status = 'unparseable') = (failure_reason IS NOT NULL)", name="failed_when_unparseable"),
        CheckConstraint("accuracy BETWEEN 0 AND 10", name="accuracy_range"),
        CheckConstraint("fluency BETWEEN 0 AND 10", name="fluency_range"),
        CheckConstraint("prosodic BETWEEN 0 AND 10", name="prosodic_range"),
        CheckConstraint("total BETWEEN 0 AND 10", name="total_range"),
        Index(None, "model_version_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    status: Mapped[AssessmentStatus] = mapped_column(
        _enum(AssessmentStatus, "assessment_status"), default=AssessmentStatus.scored
    )
    accuracy: Mapped[int | None] = mapped_column(SmallInteger)
    fluency: Mapped[int | None] = mapped_column(SmallInteger)
    prosodic: Mapped[int | None] = mapped_column(SmallInteger)
    total: Mapped[int | None] = mapped_column(SmallInteger)
    word_transcript: Mapped[str | None] = mapped_column(Text)
    phoneme_transcript: Mapped[str | None] = mapped_column(Text)
    raw_output: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSONB, default=list)
    generation_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PhoneDiff(Base):
    __tablename__ = "phone_diffs"
    __table_args__ = (
        UniqueConstraint("assessment_id", "position"),
        CheckConstraint(
            "(op = 'insertion') = (expected IS NULL) AND (op = 'deletion') = (actual IS NULL)",
            name="phones_match_op",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    word_index: Mapped[int] = mapped_column(Integer)
    word: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    actual: Mapped[str | None] = mapped_column(Text)
    op: Mapped[Op] = mapped_column(_enum(Op, "diff_op"))


class WordScore(Base):
    """A word's accuracy (0-10) and error type, from engines that score each word (GOP)."""

    __tablename__ = "word_scores"
    __table_args__ = (
        UniqueConstraint("assessment_id", "word_index"),
        CheckConstraint("accuracy BETWEEN 0 AND 10", name="accuracy_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    word_index: Mapped[int] = mapped_column(Integer)
    word: Mapped[str] = mapped_column(Text)
    accuracy: Mapped[float | None] = mapped_column(Float)
    error_type: Mapped[str] = mapped_column(Text)  # a scoring.pronunciation.WordErrorType


class PhoneScore(Base):
    """A canonical phone's score (0-2), timing and GOP, from engines that score each phone (GOP)."""

    __tablename__ = "phone_scores"
    __table_args__ = (
        UniqueConstraint("assessment_id", "position"),
        CheckConstraint("score BETWEEN 0 AND 2", name="score_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    word_index: Mapped[int] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    start_seconds: Mapped[float] = mapped_column(Float)
    duration_seconds: Mapped[float] = mapped_column(Float)
    gop: Mapped[float] = mapped_column(Float)
    heard: Mapped[str | None] = mapped_column(Text)
