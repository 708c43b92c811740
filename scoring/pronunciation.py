"""Per-word and per-phone results of an engine that scores each phone (the GOP engine).

A word's error type follows Microsoft's pronunciation assessment: `Omission` when none of its
phones was heard, `Mispronunciation` when a phone was heard as another or not at all (or its
accuracy is low), `Insertion` when extra speech was heard right after it, `None` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scoring.alignment import Edit, Op

MISPRONOUNCED_BELOW = 6.0  # word accuracy (0-10) under which a word counts as mispronounced


class WordErrorType(StrEnum):
    none = "None"
    mispronunciation = "Mispronunciation"
    omission = "Omission"
    insertion = "Insertion"


@dataclass(frozen=True)
class PhoneScore:
    """One canonical phone: its score (0-2, as speechocean762 annotates), where it was heard
    (seconds), its GOP, and the phone heard in its place (None when the same or not heard)."""

    word_index: int
    phone: str
    score: float
    start: float
    duration: float
    gop: float
    heard: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "phone": self.phone,
            "score": round(self.score, 2),
            "start": round(self.start, 2),
            "duration": round(self.duration, 2),
            "gop": round(self.gop, 2),
            **({"heard": self.heard} if self.heard else {}),
        }


@dataclass(frozen=True)
class WordScore:
    index: int
    text: str
    accuracy: float | None
    error_type: WordErrorType


def word_error_type(ops: Sequence[Edit], accuracy: float | None) -> WordErrorType:
    """The error type of a word from its canonical-vs-heard operations and its accuracy."""
    expected = [edit for edit in ops if edit.expected is not None]
    if expected and all(edit.op is Op.deletion for edit in expected):
        return WordErrorType.omission
    if any(edit.op in (Op.substitution, Op.deletion) for edit in expected):
        return WordErrorType.mispronunciation
    if accuracy is not None and accuracy < MISPRONOUNCED_BELOW:
        return WordErrorType.mispronunciation
    if any(edit.op is Op.insertion for edit in ops):
        return WordErrorType.insertion
    return WordErrorType.none
