"""The one chunk scheduler: how recordings reach an engine, for the worker, `pronscore score`,
evaluation and the benchmarks alike.

Recordings go shortest first, in chunks of at most `chunk_seconds` of audio (what an engine
scores in one call), so padding stays small and memory bounded. Where loading a recording takes
time (the worker downloads and decodes it), every load is submitted to a thread pool at once, in
the order the chunks are scored, so later chunks arrive while earlier ones are on the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import cast

from engines.base import Engine, ScoringItem
from scoring.assessment import AssessmentResult
from scoring.batching import form_batches
from scoring.failures import RecordingFailure

Loaded = ScoringItem | RecordingFailure
Result = AssessmentResult | RecordingFailure


@dataclass(frozen=True)
class ChunkProgress:
    """Where a scheduled run stands, after each chunk."""

    chunks_done: int
    chunks: int
    recordings_done: int
    recordings: int


def score_chunks(
    engine: Engine,
    seconds: Mapping[int, float | None],
    load: Callable[[int], Loaded],
    chunk_seconds: float,
    *,
    loaders: Executor | None = None,
    progress: Callable[[ChunkProgress], None] | None = None,
) -> dict[int, Result]:
    """Score the recordings that `seconds` names (key -> length in seconds, None if unknown),
    each loaded by `load`: ahead of time on `loaders` when given, else when its chunk comes. A
    recording that does not load is its own failure; the rest of its chunk is scored.
    `progress` is called after each chunk, and may raise to stop the run."""
    planned = form_batches(list(seconds.items()), chunk_seconds)
    ahead: dict[int, Future[Loaded]] = {}
    if loaders is not None:
        ahead = {key: loaders.submit(load, key) for chunk in planned for key in chunk}
    results: dict[int, Result] = {}
    try:
        for done, chunk in enumerate(planned, start=1):
            readable: list[tuple[int, ScoringItem]] = []
            for key in chunk:
                loaded = ahead[key].result() if ahead else load(key)
                if isinstance(loaded, RecordingFailure):
                    results[key] = loaded
                else:
                    readable.append((key, loaded))
            if readable:
                scored = engine.score([item for _, item in readable])
                results.update(zip((key for key, _ in readable), scored, strict=True))
            if progress is not None:
                progress(ChunkProgress(done, len(planned), len(results), len(seconds)))
    finally:
        for future in ahead.values():  # a run stopped early downloads nothing more
            future.cancel()
    return results


def score_in_chunks(
    engine: Engine,
    items: Sequence[ScoringItem],
    chunk_seconds: float,
    progress: Callable[[int, int], None] | None = None,
) -> list[AssessmentResult]:
    """Score recordings already in memory as the worker scores them; results in the order of
    `items`. `progress(done, total)` is called after each chunk."""
    results = score_chunks(
        engine,
        {index: item.seconds for index, item in enumerate(items)},
        items.__getitem__,
        chunk_seconds,
        progress=None if progress is None else lambda at: progress(at.recordings_done, at.recordings),
    )
    # Items in memory always load, so every result is the engine's.
    return [cast(AssessmentResult, results[index]) for index in range(len(items))]
