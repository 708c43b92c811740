"""Why a recording could not be scored: one reason a person can act on, and the detail behind it.

A failure is one `RecordingFailure` wherever it travels: refused at intake, lost from the store,
failed by an engine, given up after crashes. It is stored as two columns, `failure_reason` and
`failure_detail`, of the recording (and of the assessment, for a model answer that could not be
read). Adding a reason is a change here: a member of `FailureReason` and its plain-words
explanations in `EXPLANATIONS`, for the operator and for the teacher (tests fail until both
exist and README.md's table lists it).
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
    wrong_text = "wrong_text"
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
        """What happened and what to do, in plain words, for whoever runs pronscore."""
        return EXPLANATIONS[self].operator

    @property
    def for_teacher(self) -> str:
        """What happened and what to do, for a teacher reading the class's site."""
        return EXPLANATIONS[self].teacher


@dataclass(frozen=True)
class Explanation:
    """A reason in plain words, twice: for the operator (`pronscore failures`, the README) and for
    the teacher (the class's site), who reads no logs and runs no commands."""

    operator: str
    teacher: str


EXPLANATIONS: dict[FailureReason, Explanation] = {
    FailureReason.audio_unreadable: Explanation(
        "The file is not audio that can be decoded (or holds broken samples). Export it again as WAV, "
        "FLAC, Ogg or MP3 and enqueue the row again.",
        "The file is not a recording that can be played (damaged or another kind of file). Ask the learner "
        "to record it again.",
    ),
    FailureReason.audio_empty: Explanation(
        "The file holds no sound at all. Record again.",
        "The recording is empty. Ask the learner to record it again.",
    ),
    FailureReason.audio_silent: Explanation(
        "The recording is silent (nothing above -60 dBFS): a muted or unplugged microphone. Record again.",
        "Nothing can be heard in the recording. Check the microphone and record again.",
    ),
    FailureReason.audio_too_long: Explanation(
        "The recording is longer than PRONSCORE_MAX_AUDIO_SECONDS. Cut it to the sentence read, or raise the limit.",
        "The recording is too long to score. Ask the learner to record the sentence on its own.",
    ),
    FailureReason.object_missing: Explanation(
        "The audio is not in the store (deleted, or a wrong s3:// address). Upload it and enqueue the row again.",
        "The recording's file is missing from the school's store. Ask whoever uploads recordings to send it again.",
    ),
    FailureReason.unparseable_output: Explanation(
        "The model's answer could not be read; its raw answer is kept. After fixing the model or its "
        "task format, `pronscore retry RUN --reason unparseable_output`.",
        "The scoring model gave an answer it could not read. It will be scored again once the model is fixed.",
    ),
    FailureReason.attempts_exhausted: Explanation(
        "Its batch crashed a worker PRONSCORE_MAX_ATTEMPTS times (killed, out of memory or hung). Find the "
        "cause in the workers' logs, then `pronscore retry RUN`.",
        "Scoring stopped after it crashed several times on this recording. Ask whoever runs pronscore to retry it.",
    ),
    FailureReason.alignment_failed: Explanation(
        "The reference sentence could not be found in the audio (GOP): silence, noise, or no speech where the "
        "words should be. Check the recording.",
        "No reading of the sentence could be heard in the recording (silence or noise). Ask the learner to "
        "read it again.",
    ),
    FailureReason.wrong_text: Explanation(
        "Speech was heard, but not the reference sentence (GOP): another sentence was read, or the manifest "
        "gives the wrong text for this recording. Check the row's text; if it was wrong, enqueue the row again "
        "with the right one.",
        "The learner seems to have read another sentence than the one set. Check which sentence was set and "
        "ask the learner to read that one.",
    ),
    FailureReason.engine_error: Explanation(
        "The engine raised an error on this recording even when given it alone; the detail is the error. "
        "Report it with the recording, then `pronscore retry RUN --reason engine_error` once fixed.",
        "The scoring program failed on this recording. Ask whoever runs pronscore; it will be scored again "
        "once that is fixed.",
    ),
}


@dataclass(frozen=True)
class RecordingFailure:
    """A recording that failed alone, with its reason and the detail behind it."""

    reason: FailureReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
