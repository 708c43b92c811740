import math

import pytest

from scoring.metrics import DELETED, MddCounts, confusions, error_rate, heard_per_canonical, pearson


def test_pearson_on_a_hand_computed_case() -> None:
    # x = 1..5, y = 2, 4, 5, 4, 5: sxy = 6, sxx = 10, syy = 6 -> r = 6 / sqrt(60)
    result = pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])
    assert result.pcc == pytest.approx(6 / math.sqrt(60))
    half = 1.959964 / math.sqrt(2)
    assert result.low == pytest.approx(math.tanh(math.atanh(result.pcc) - half))
    assert result.high == pytest.approx(math.tanh(math.atanh(result.pcc) + half))


def test_pearson_is_undefined_for_constant_or_tiny_inputs() -> None:
    assert pearson([7, 7, 7, 7], [1, 2, 3, 4]).pcc is None
    assert pearson([1, 2], [1, 2]).pcc is None


def test_error_rates() -> None:
    assert error_rate(["W IY K AO L"], ["W IY K AA L"]) == pytest.approx(1 / 5)
    assert error_rate(["A B C D"], ["A C D E"]) == pytest.approx(2 / 4)  # one deletion, one insertion
    assert error_rate(["A B", "C D E"], ["", "C D E"]) == pytest.approx(2 / 5)


def test_heard_per_canonical_marks_deletions() -> None:
    assert heard_per_canonical(["B", "EH", "R"], ["B", "AE"]) == ["B", "AE", DELETED]


def test_mdd_counts_on_crafted_cases() -> None:
    counts = MddCounts()
    canonical = ["K", "AE", "T", "S"]
    # annotators: AE -> EH, S deleted; model: AE -> EH (correct diagnosis), S kept (false acceptance),
    # T -> D (false rejection), K correct (true acceptance).
    counts.add(canonical, ["K", "EH", "T"], ["K", "EH", "D", "S"])
    assert (counts.ta, counts.fr, counts.fa, counts.cd, counts.de) == (1, 1, 1, 1, 0)
    # annotators: AE -> EH; model: AE -> IH (diagnosis error).
    counts.add(canonical, ["K", "EH", "T", "S"], ["K", "IH", "T", "S"])
    assert (counts.ta, counts.fr, counts.fa, counts.cd, counts.de) == (4, 1, 1, 1, 1)
    assert counts.tr == 2
    assert counts.precision == pytest.approx(2 / 3) and counts.recall == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(2 / 3)


def test_insertions_are_counted_beside_the_hierarchy_not_in_it() -> None:
    counts = MddCounts()
    # The model inserts AH between K and AE, and the annotators an S after T: no canonical phone
    # changes its category, so TA stays 3 and nothing else moves.
    counts.add(["K", "AE", "T"], ["K", "AE", "T", "S"], ["K", "AH", "AE", "T"])
    assert (counts.ta, counts.fr, counts.fa, counts.tr) == (3, 0, 0, 0)
    assert (counts.insertions, counts.annotated_insertions) == (1, 1)
    assert counts.as_dict()["insertions"] == 1


def test_confusions_are_ranked() -> None:
    ranked = confusions([(["AE", "T"], ["EH", "T"]), (["AE"], ["EH"]), (["T"], [])], top=2)
    assert ranked == [("AE", "EH", 2), ("T", DELETED, 1)]
