"""What the site says: a plain sentence for every failure reason, word marks that follow the
stored scores, learner standings, and file names that any id maps to safely."""

import re

from hypothesis import given
from hypothesis import strategies as st

from publishing.content import slug
from publishing.wording import (
    FAIR_FROM,
    GOOD_FROM,
    ModelCaveat,
    Standing,
    WordMark,
    failure_words,
    standing,
    word_mark,
)
from scoring.failures import FailureReason


def test_every_failure_reason_has_plain_words() -> None:
    assert all(failure_words(reason) == reason.for_teacher for reason in FailureReason)
    assert failure_words("a_reason_from_a_newer_release") == "Could not be scored (a_reason_from_a_newer_release)."


accuracies = st.floats(min_value=0, max_value=10, allow_nan=False)
error_types = st.sampled_from(["None", "Mispronunciation", "Omission", "Insertion", None])


@given(accuracies, accuracies, error_types, st.integers(0, 5))
def test_word_marks_follow_accuracy_and_never_rank_a_better_word_lower(
    low: float, high: float, error_type: str | None, errors: int
) -> None:
    low, high = sorted((low, high))
    order = [WordMark.poor, WordMark.fair, WordMark.good]
    if error_type == "Omission":
        assert word_mark(high, error_type, errors) is WordMark.missed
        return
    assert order.index(word_mark(low, error_type, errors)) <= order.index(word_mark(high, error_type, errors))
    good = high >= GOOD_FROM and error_type != "Mispronunciation"
    expected = WordMark.good if good else WordMark.fair if high >= FAIR_FROM else WordMark.poor
    assert word_mark(high, error_type, errors) is expected


def test_an_unscored_word_is_poor_only_when_its_phones_were_wrong() -> None:
    assert word_mark(None, None, 0) is WordMark.unscored
    assert word_mark(None, None, 2) is WordMark.poor


def test_standing() -> None:
    assert standing(None, None) is Standing.unscored
    assert standing(4.9, 2.0) is Standing.needs_help
    assert standing(7.0, -1.0) is Standing.needs_help
    assert standing(7.0, 1.0) is Standing.improved
    assert standing(7.0, 0.5) is Standing.steady
    assert standing(7.0, None) is Standing.steady


def test_caveats_name_the_tiny_checkpoint_and_gop() -> None:
    assert "mean nothing" in ModelCaveat("tiny", "phi4mm", meaningless=True).warning
    assert "hints" in ModelCaveat("gop-x", "gop", meaningless=False).note
    assert ModelCaveat("phi4mm-x", "phi4mm", meaningless=False).warning is None


@given(st.text(max_size=300))
def test_slugs_are_safe_file_names(identifier: str) -> None:
    name = slug(identifier)
    assert re.fullmatch(r"[a-z0-9-]{1,52}", name)
    assert slug(identifier) == name


@given(st.text(max_size=50), st.text(max_size=50))
def test_different_ids_get_different_slugs(first: str, second: str) -> None:
    assert (slug(first) == slug(second)) == (first == second)
