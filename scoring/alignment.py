"""Edit-distance alignment of phone sequences.

Among the alignments with the fewest edits we prefer those whose substitutions stay within
a phone class (vowel for vowel, consonant for consonant), which is how a learner's error
is usually attributed: `B EH R` heard as `B AE` is EH->AE with R deleted, not EH deleted
and R->AE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scoring.phones import same_class


class Op(StrEnum):
    match = "match"
    substitution = "substitution"
    deletion = "deletion"
    insertion = "insertion"


@dataclass(frozen=True)
class Edit:
    op: Op
    expected: str | None
    actual: str | None
    expected_index: int | None
    actual_index: int | None


def align(expected: Sequence[str], actual: Sequence[str]) -> list[Edit]:
    """Minimum-edit alignment of `actual` against `expected`, as a list of operations in order."""
    n, m = len(expected), len(actual)
    # Cost is (edits, cross-class substitutions) packed into one integer, edits first.
    scale = n + m + 1
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * scale
    for j in range(1, m + 1):
        cost[0][j] = j * scale
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a, b = expected[i - 1], actual[j - 1]
            diagonal = 0 if a == b else scale + (0 if same_class(a, b) else 1)
            cost[i][j] = min(
                cost[i - 1][j - 1] + diagonal,
                cost[i - 1][j] + scale,
                cost[i][j - 1] + scale,
            )
    edits: list[Edit] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            a, b = expected[i - 1], actual[j - 1]
            diagonal = 0 if a == b else scale + (0 if same_class(a, b) else 1)
            if cost[i][j] == cost[i - 1][j - 1] + diagonal:
                op = Op.match if a == b else Op.substitution
                edits.append(Edit(op, a, b, i - 1, j - 1))
                i, j = i - 1, j - 1
                continue
        if i > 0 and cost[i][j] == cost[i - 1][j] + scale:
            edits.append(Edit(Op.deletion, expected[i - 1], None, i - 1, None))
            i -= 1
        else:
            edits.append(Edit(Op.insertion, None, actual[j - 1], None, j - 1))
            j -= 1
    edits.reverse()
    return edits


def edit_count(edits: Sequence[Edit]) -> int:
    return sum(edit.op is not Op.match for edit in edits)
