"""The settings every process shares, read from `PRONSCORE_*` variables and `.env`.

Which engine scores, and each engine's own settings, are read the same way by the engines
themselves (their settings classes use `SETTINGS_CONFIG`), so this module names no engine.
"""

import warnings
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Shared by every settings class: one prefix, one `.env`, and one title, by which the command
# line tells a bad setting from any other invalid value.
SETTINGS_CONFIG = SettingsConfigDict(
    env_prefix="PRONSCORE_", env_file=".env", env_file_encoding="utf-8", extra="ignore", title="Settings"
)


class Settings(BaseSettings):
    model_config = SETTINGS_CONFIG

    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/pronscore",
        description="SQLAlchemy URL of the PostgreSQL database (postgresql+psycopg://).",
    )
    report_database_url: str | None = Field(
        None,
        description="URL the teacher's site (pronscore report html, publish) reads the report views with, as the "
        "read-only role pronscore_report; empty means PRONSCORE_DATABASE_URL with that user and no password.",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker URL (Redis).")

    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint; empty means AWS S3 itself.")
    s3_region: str = Field("us-east-1", description="S3 region name.")
    s3_bucket: str = Field("pronscore-audio", description="Bucket that holds uploaded recordings.")
    s3_access_key_id: SecretStr | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    s3_path_style: bool = Field(True, description="Address buckets by path (most self-hosted S3 servers need this).")

    batch_audio_seconds: float = Field(
        4096.0,
        gt=0,
        description="Audio seconds per batch, the queued unit of work a worker claims; several "
        "chunks, so audio for later chunks downloads while earlier ones are scored.",
    )
    chunk_audio_seconds: float = Field(
        1024.0,
        gt=0,
        description="Audio seconds per chunk, what the model scores in one call (about 256 recordings of "
        "speechocean762's lengths: the largest batch size).",
    )
    generation_batch_seconds: float | None = Field(
        None,
        gt=0,
        description="Deprecated name of PRONSCORE_CHUNK_AUDIO_SECONDS, still read (with a warning) in this release.",
    )
    max_audio_seconds: float = Field(40.0, gt=0, description="Longer recordings fail with audio_too_long.")
    max_attempts: int = Field(
        3,
        ge=1,
        description="Crashes a recording survives: a worker that died (or hung) while holding its batch costs "
        "each of the batch's recordings one attempt; at this many the recording fails attempts_exhausted.",
    )
    lease_seconds: int = Field(
        900,
        ge=5,
        description="How long a claimed batch stays a worker's without renewal; the worker renews it every "
        "third of this while it works, and the sweep retakes a batch whose lease ran out.",
    )
    retry_backoff_seconds: float = Field(
        2.0,
        gt=0,
        description="First wait before a batch that met a store, database or broker outage is tried again; "
        "each later wait doubles, up to PRONSCORE_RETRY_BACKOFF_MAX_SECONDS. Outages never cost an attempt.",
    )
    retry_backoff_max_seconds: float = Field(
        300.0, gt=0, description="Longest wait between two tries of a batch during an outage."
    )
    retry_horizon_seconds: float = Field(
        3600.0,
        gt=0,
        description="How long a worker keeps retrying a batch through an outage; after that the batch waits, "
        "queued, for the sweep.",
    )
    visibility_timeout_seconds: int = Field(
        7200, ge=60, description="Redis visibility timeout; must exceed the longest batch."
    )
    sweep_interval_seconds: int = Field(300, ge=10, description="How often Celery beat runs the sweep.")
    broker_wait_seconds: int = Field(
        300,
        ge=1,
        description="How long `pronscore worker --drain` goes on without reaching the broker before it "
        "gives up (exit status 2).",
    )
    audio_root: Path | None = Field(
        None,
        description="If set, local audio paths in a manifest must lie under this folder (after resolving "
        "symbolic links and ..); other rows are rejected.",
    )
    max_id_length: int = Field(
        200, ge=1, description="Longest recording_id, learner_id or class_id a manifest may use."
    )
    max_text_length: int = Field(1000, ge=1, description="Longest reference text a manifest may use, in characters.")
    earliest_submitted_at: date = Field(
        date(2000, 1, 1), description="Rows submitted before this date are rejected (a mistyped year)."
    )
    submitted_at_max_ahead_hours: float = Field(
        48.0, ge=0, description="Rows submitted further than this into the future are rejected."
    )
    enqueue_chunk_rows: int = Field(
        2000,
        ge=1,
        description="Manifest rows registered per transaction; each chunk's batches are sent once it commits, "
        "and enqueueing the same manifest again finishes an interrupted one.",
    )
    metrics_port: int = Field(9464, ge=0, description="Worker Prometheus port; 0 turns it off.")

    @field_validator("audio_root", "report_database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _read_deprecated_names(self) -> Self:
        if self.generation_batch_seconds is not None:
            warnings.warn(
                "PRONSCORE_GENERATION_BATCH_SECONDS is deprecated; set PRONSCORE_CHUNK_AUDIO_SECONDS instead",
                FutureWarning,
                stacklevel=2,
            )
            if "chunk_audio_seconds" not in self.model_fields_set:
                self.chunk_audio_seconds = self.generation_batch_seconds
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
