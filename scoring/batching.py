"""Batches formed by total audio seconds, not by count, from recordings sorted by length."""

from __future__ import annotations

from collections.abc import Sequence

# A recording whose length is unknown (its header did not read) still costs a little.
UNKNOWN_SECONDS = 1.0


def form_batches(recordings: Sequence[tuple[int, float | None]], budget_seconds: float) -> list[list[int]]:
    """Cut (id, seconds) pairs, shortest first, into batches of at most `budget_seconds` each;
    a recording longer than the budget gets a batch of its own."""
    ordered = sorted(recordings, key=lambda r: (r[1] if r[1] is not None else UNKNOWN_SECONDS, r[0]))
    batches: list[list[int]] = []
    total = 0.0
    for recording_id, seconds in ordered:
        cost = seconds if seconds is not None else UNKNOWN_SECONDS
        if batches and total + cost <= budget_seconds:
            batches[-1].append(recording_id)
            total += cost
        else:
            batches.append([recording_id])
            total = cost
    return batches
