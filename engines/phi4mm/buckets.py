"""The few static shapes the fast decode loop runs in, and how recordings are grouped into them.

A decode step's shape is (rows, attention window): rows is a batch size from a short list (a
batch is padded up to the next one), and the window is how many cache slots the step attends
over, rounded up on a coarse grid, so a step never scans much of the cache it has not filled
yet. Every shape is warmed up (captured as a CUDA graph) when the engine starts; grouping
recordings only ever asks for shapes on the grid, so nothing is captured or compiled during a
run. Prefill runs eagerly at the batch's own prompt length and needs no shape of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

# Attention windows: every 64 slots up to 512, every 128 up to 1024, every 256 beyond, so a
# step attends over at most an eighth more slots than it has filled, from a few dozen shapes.
WINDOW_STEPS = ((512, 64), (1024, 128), (1 << 30, 256))


@dataclass(frozen=True)
class Need:
    """What one row needs in one turn of its task format: its prompt's tokens and its answer's budget."""

    prompt: int
    budget: int


@dataclass(frozen=True)
class BucketPlan:
    """Batch sizes, the key/value slots the cache holds (rows × tokens), and the longest
    context (prompt + answer) a row may have."""

    batch_sizes: tuple[int, ...]
    cache_tokens: int
    max_context: int

    def __post_init__(self) -> None:
        if not self.batch_sizes or min(self.batch_sizes) < 1 or list(self.batch_sizes) != sorted(self.batch_sizes):
            raise ValueError(f"batch sizes must be ascending positive integers, not {self.batch_sizes}")
        if self.cache_length(self.batch_sizes[-1]) == 0:
            raise ValueError(
                f"{self.cache_tokens} cache slots leave no window for a batch of {self.batch_sizes[-1]} rows"
            )

    @cached_property
    def windows(self) -> tuple[int, ...]:
        windows, size = [], 0
        for limit, step in WINDOW_STEPS:
            while size + step <= min(limit, self.max_context):
                size += step
                windows.append(size)
        return tuple(windows)

    @property
    def max_rows(self) -> int:
        return self.batch_sizes[-1]

    def batch_size(self, rows: int) -> int:
        """The bucket a batch of `rows` is padded to."""
        for size in self.batch_sizes:
            if size >= rows:
                return size
        raise ValueError(f"{rows} rows exceed the largest batch size {self.max_rows}")

    def window(self, slots: int) -> int:
        """The smallest window that covers `slots` cache slots."""
        for window in self.windows:
            if window >= slots:
                return window
        raise ValueError(f"{slots} slots exceed the longest context {self.max_context}")

    def cache_length(self, batch_size: int) -> int:
        """Slots per row a batch of `batch_size` rows may fill: the cache shared out, on the window grid."""
        fitting = [w for w in self.windows if w * batch_size <= self.cache_tokens]
        return fitting[-1] if fitting else 0

    def fitting(self, context: int) -> BucketPlan:
        """The plan without the batch sizes whose rows get fewer than `context` cache slots
        (no batch of the shortest real context fits them, so they would be warmed up for nothing)."""
        sizes = tuple(size for size in self.batch_sizes if self.cache_length(size) >= context)
        if not sizes:
            raise ValueError(
                f"{self.cache_tokens} cache slots leave no batch size of {self.batch_sizes} "
                f"room for a context of {context} tokens"
            )
        return replace(self, batch_sizes=sizes)

    def shapes(self) -> list[tuple[int, int]]:
        """Every (rows, window) a decode step may run in, largest first (the order to capture them)."""
        return [
            (size, window)
            for size in reversed(self.batch_sizes)
            for window in reversed(self.windows)
            if window <= self.cache_length(size)
        ]

    @staticmethod
    def context(rows: Sequence[Sequence[Need]]) -> int:
        """Slots a batch of `rows` needs: its longest prompt and longest budget, in its longest turn."""
        return max(max(row[t].prompt for row in rows) + max(row[t].budget for row in rows) for t in range(len(rows[0])))

    def fits(self, rows: Sequence[Sequence[Need]]) -> bool:
        if len(rows) > self.max_rows:
            return False
        return self.context(rows) <= self.cache_length(self.batch_size(len(rows)))

    def split(self, rows: Sequence[Sequence[Need]]) -> tuple[list[list[int]], list[int]]:
        """Consecutive groups of row indices that each fit one batch (give rows sorted by
        length so that padding stays small), and the rows too long for any batch."""
        groups: list[list[int]] = []
        too_long = {index for index, row in enumerate(rows) if not self.fits([row])}
        current: list[int] = []
        for index, row in enumerate(rows):
            if index in too_long:
                continue
            if current and not self.fits([rows[i] for i in current] + [row]):
                groups.append(current)
                current = []
            current.append(index)
        if current:
            groups.append(current)
        return groups, sorted(too_long)
