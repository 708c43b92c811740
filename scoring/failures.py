"""Why a recording could not be scored: one reason a person can act on, and the detail behind it.

A failure is one `RecordingFailure` wherever it travels: refused at intake, lost from the store,
failed by an engine, given up after crashes. It is stored as two columns, `failure_reason` and
`failure_detail`, of the recording (and of the assessment, for a model answer that could not be
read). Adding a reason is a change here: a member of `FailureReason` and its plain-words
explanation in `EXPLANATIONS` (tests fail until both exist and README.md's table lists it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnknownReason(ValueError):
    """A name that is no `FailureReason` (a typo in `pronscore retry --reason`, say)."""


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

    @classmethod
    def named(cls, name: str) -> FailureReason:
        """The reason called `name`, or `UnknownReason` with the valid names."""
        try:
            return cls(name)
        except ValueError:
            raise UnknownReason(f"unknown failure reason {name!r}; the reasons are {', '.join(cls)}") from None

    @property
    def explanation(self) -> str:
        """What happened and what to do, in plain words."""
        return EXPLANATIONS[self]


EXPLANATIONS: dict[FailureReason, str] = {
    FailureReason.audio_unreadable: (
        "The file is not audio that can be decoded (or holds broken samples). Export it again as WAV, "
        "FLAC, Ogg or MP3 and enqueue the row again."
    ),
    FailureReason.audio_empty: "The file holds no sound at all. Record again.",
    FailureReason.audio_silent: (
        "The recording is silent (nothing above -60 dBFS): a muted or unplugged microphone. Record again."
    ),
    FailureReason.audio_too_long: (
        "The recording is longer than PRONSCORE_MAX_AUDIO_SECONDS. Cut it to the sentence read, or raise the limit."
    ),
    FailureReason.object_missing: (
        "The audio is not in the store (deleted, or a wrong s3:// address). Upload it and enqueue the row again."
    ),
    FailureReason.unparseable_output: (
        "The model's answer could not be read; its raw answer is kept. After fixing the model or its "
        "task format, `pronscore retry RUN --reason unparseable_output`."
    ),
    FailureReason.attempts_exhausted: (
        "Its batch crashed a worker PRONSCORE_MAX_ATTEMPTS times (killed, out of memory or hung). Find the "
        "cause in the workers' logs, then `pronscore retry RUN`."
    ),
    FailureReason.alignment_failed: (
        "The reference sentence could not be found in the audio (GOP): silence, noise, or another sentence "
        "read. Check the recording and its text."
    ),
}


@dataclass(frozen=True)
class RecordingFailure:
    """A recording that failed alone, with its reason and the detail behind it."""

    reason: FailureReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
