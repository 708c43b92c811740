"""What the site says in plain words: failure reasons, word marks, learner standings and the
caveats of a model version. Thresholds a teacher sees in the legend live here too."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scoring.failures import FailureReason


def failure_words(reason: str | None) -> str:
    """The teacher's sentence for a stored failure reason (a reason this version does not know is
    shown as it is stored, never hidden)."""
    try:
        return FailureReason(reason).for_teacher
    except ValueError:
        return f"Could not be scored ({reason or 'no reason recorded'})."


# Word accuracy (0-10) bands the sentence is coloured by.
GOOD_FROM = 8.0
FAIR_FROM = 5.0


class WordMark(StrEnum):
    """How one read word is shown: its colour band, named in the legend and on the word."""

    good = "good"
    fair = "fair"
    poor = "poor"
    missed = "missed"
    unscored = "unscored"


WORD_MARK_LABELS = {
    WordMark.good: f"good ({GOOD_FROM:g} or more)",
    WordMark.fair: f"fair ({FAIR_FROM:g} to {GOOD_FROM:g}, or a sound heard wrong)",
    WordMark.poor: f"poor (under {FAIR_FROM:g})",
    WordMark.missed: "missed (not heard)",
    WordMark.unscored: "no word score (see the phones)",
}


def word_mark(accuracy: float | None, error_type: str | None, phone_errors: int) -> WordMark:
    """A word's band: omitted words are `missed`; a scored word by its accuracy, but never
    `good` when the engine heard one of its sounds wrong (`Mispronunciation`); a word the
    engine did not score (Phi-4, a rater) is `poor` when its phones were heard wrong."""
    if error_type == "Omission":
        return WordMark.missed
    if accuracy is None:
        return WordMark.poor if phone_errors else WordMark.unscored
    if accuracy >= GOOD_FROM and error_type != "Mispronunciation":
        return WordMark.good
    return WordMark.fair if accuracy >= FAIR_FROM else WordMark.poor


# A scored word's error type (scoring.pronunciation.WordErrorType), as the phone table says it.
ERROR_TYPE_WORDS = {
    "None": "fine",
    "Mispronunciation": "mispronounced",
    "Omission": "missed",
    "Insertion": "extra sound after it",
}

# A learner's standing over the period: the mean total of the latest weeks with recordings, and
# its change from the first weeks (two weeks each once a learner has four, else one).
IMPROVED_BY = 1.0
NEEDS_HELP_BELOW = 5.0


class Standing(StrEnum):
    needs_help = "needs help"
    improved = "improved"
    steady = "steady"
    unscored = "no scores yet"


def standing(latest_total: float | None, change: float | None) -> Standing:
    if latest_total is None:
        return Standing.unscored
    if latest_total < NEEDS_HELP_BELOW or (change is not None and change <= -IMPROVED_BY):
        return Standing.needs_help
    if change is not None and change >= IMPROVED_BY:
        return Standing.improved
    return Standing.steady


STANDING_RULE = (
    f"Recent total: the mean total of a learner's last two weeks with recordings (the last week when there "
    f"are fewer than four); change: from their first two. Needs help: recent total under {NEEDS_HELP_BELOW:g}, "
    f"or down by {IMPROVED_BY:g} or more. Improved: up by {IMPROVED_BY:g} or more."
)


@dataclass(frozen=True)
class ModelCaveat:
    """What a page says about the model version its scores come from."""

    name: str
    engine: str
    meaningless: bool

    @property
    def warning(self) -> str | None:
        if self.meaningless:
            return (
                "These scores come from the tiny test checkpoint, a model with random weights used to test "
                "pronscore. They mean nothing about the learners."
            )
        return None

    @property
    def note(self) -> str | None:
        if self.engine == "gop":
            return (
                "Scored by the GOP engine (goodness of pronunciation). Its word and phone scores are measured; "
                "the phones it says it heard are hints, not a transcription."
            )
        if self.engine == "human":
            return "These are a human rater's scores."
        return None
