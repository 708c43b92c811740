"""Failure reasons: each one explained in plain words and listed in README.md, so adding one is
a change in `scoring/failures.py` that these tests finish pointing at."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.failures import EXPLANATIONS, FailureReason, UnknownReason
from tests.conftest import ROOT


def test_every_reason_has_plain_words_for_the_operator_and_the_teacher() -> None:
    assert set(EXPLANATIONS) == set(FailureReason), "explain each reason in scoring/failures.py EXPLANATIONS"
    blank = [r.value for r in FailureReason if not (r.explanation.strip() and r.for_teacher.strip())]
    assert not blank, f"both explanations of {blank} must say something"


def _readme_reasons() -> list[str]:
    section = (ROOT / "README.md").read_text().split("### Failure reasons", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_readmes_table_lists_every_reason_once() -> None:
    listed = _readme_reasons()
    assert sorted(listed) == sorted(reason.value for reason in FailureReason), (
        "README.md's 'Failure reasons' table must list each FailureReason once, with its explanation"
    )


@given(st.one_of(st.sampled_from([reason.value for reason in FailureReason]), st.text(max_size=20)))
def test_a_reason_is_found_by_its_name_and_anything_else_is_refused_with_the_valid_names(name: str) -> None:
    if name in {reason.value for reason in FailureReason}:
        assert FailureReason.named(name).value == name
        return
    with pytest.raises(UnknownReason) as refused:
        FailureReason.named(name)
    assert f"unknown failure reason {name!r}" in str(refused.value)
    assert all(reason.value in str(refused.value) for reason in FailureReason)
