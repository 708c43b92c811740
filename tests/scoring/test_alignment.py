from functools import cache

from hypothesis import given
from hypothesis import strategies as st

from scoring.alignment import Op, align, edit_count

phones = st.lists(st.sampled_from(["AA", "AE", "B", "D", "EH", "K", "<unk>"]), max_size=7)


def brute_force_distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    @cache
    def d(i: int, j: int) -> int:
        if i == len(a):
            return len(b) - j
        if j == len(b):
            return len(a) - i
        return min(d(i + 1, j + 1) + (a[i] != b[j]), d(i + 1, j) + 1, d(i, j + 1) + 1)

    return d(0, 0)


@given(phones, phones)
def test_operations_rebuild_both_sequences(expected: list[str], actual: list[str]) -> None:
    edits = align(expected, actual)
    assert [e.expected for e in edits if e.op is not Op.insertion] == expected
    assert [e.actual for e in edits if e.op is not Op.deletion] == actual
    for edit in edits:
        assert (edit.op is Op.match) == (edit.expected == edit.actual)


@given(phones, phones)
def test_cost_equals_brute_force_edit_distance(expected: list[str], actual: list[str]) -> None:
    assert edit_count(align(expected, actual)) == brute_force_distance(tuple(expected), tuple(actual))


@given(phones)
def test_identical_sequences_give_only_matches(sequence: list[str]) -> None:
    assert {e.op for e in align(sequence, sequence)} <= {Op.match}


def test_ties_prefer_a_substitution_within_the_phone_class() -> None:
    # B EH R heard as B AE: the vowel became AE and R was dropped, not EH dropped and R -> AE.
    ops = [(e.op.value, e.expected, e.actual) for e in align(["B", "EH", "R"], ["B", "AE"])]
    assert ops == [("match", "B", "B"), ("substitution", "EH", "AE"), ("deletion", "R", None)]
