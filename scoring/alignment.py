"""Edit-distance alignment of phone sequences.

The alignment has the fewest edits. Among those, it prefers substitutions between similar
phones (`substitution_penalty`), so `B EH R` heard as `B AE` is EH->AE with R deleted, not
EH deleted and R->AE. Remaining ties keep matches, then put substitutions before deletions,
as speechocean762's annotators mark them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scoring.phones import MAX_SUBSTITUTION_PENALTY, substitution_penalty


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
    # Cost is (edits, summed substitution penalties) packed into one integer, edits first.
    scale = MAX_SUBSTITUTION_PENALTY * (n + m) + 1

    def diagonal(i: int, j: int) -> int:
        a, b = expected[i - 1], actual[j - 1]
        return 0 if a == b else scale + substitution_penalty(a, b)

    cost = [[j * scale for j in range(m + 1)]]
    for i in range(1, n + 1):
        a, previous = expected[i - 1], cost[i - 1]
        row = [i * scale]
        for j in range(1, m + 1):
            b = actual[j - 1]
            best = previous[j - 1] + (0 if a == b else scale + substitution_penalty(a, b))
            if previous[j] + scale < best:
                best = previous[j] + scale
            if row[j - 1] + scale < best:
                best = row[j - 1] + scale
            row.append(best)
        cost.append(row)
    edits: list[Edit] = []
    i, j = n, m
    while i > 0 or j > 0:
        # Walking back from the end: a match, else a deletion, else a substitution, else an
        # insertion, whichever lies on a cheapest path.
        on_diagonal = i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + diagonal(i, j)
        if on_diagonal and expected[i - 1] == actual[j - 1]:
            edits.append(Edit(Op.match, expected[i - 1], actual[j - 1], i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + scale:
            edits.append(Edit(Op.deletion, expected[i - 1], None, i - 1, None))
            i -= 1
        elif on_diagonal:
            edits.append(Edit(Op.substitution, expected[i - 1], actual[j - 1], i - 1, j - 1))
            i, j = i - 1, j - 1
        else:
            edits.append(Edit(Op.insertion, None, actual[j - 1], None, j - 1))
            j -= 1
    edits.reverse()
    return edits


def edit_count(edits: Sequence[Edit]) -> int:
    return sum(edit.op is not Op.match for edit in edits)
