"""Why a recording could not be scored: one reason a person can act on, stored with the recording."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureReason(StrEnum):
    audio_unreadable = "audio_unreadable"
    audio_empty = "audio_empty"
    audio_silent = "audio_silent"
    audio_too_long = "audio_too_long"
    object_missing = "object_missing"
    unparseable_output = "unparseable_output"
    attempts_exhausted = "attempts_exhausted"
    alignment_failed = "alignment_failed"
    engine_error = "engine_error"


@dataclass(frozen=True)
class RecordingFailure:
    """A recording that failed alone, with its reason and the detail behind it."""

    reason: FailureReason
    detail: str
