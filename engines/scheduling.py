"""The one chunk scheduler: how recordings reach an engine, for the worker, `pronscore score`,
evaluation and the benchmarks alike.

Recordings go shortest first, in chunks of at most `chunk_seconds` of audio (what an engine
scores in one call), so padding stays small and memory bounded. Where loading a recording takes
time (the worker downloads and decodes it), every load is submitted to a thread pool at once, in
the order the chunks are scored, so later chunks arrive while earlier ones are on the model.
Each loaded recording is prepared by the engine where it was loaded (`engines.base.prepare`:
Phi-4 extracts its features there), so that work too runs ahead of the model.

A chunk the engine cannot score (it raises) is split in halves and each half scored again, down
to single recordings: a recording that still makes the engine raise alone fails with reason
`engine_error` and the exception in its detail, and the rest of the chunk is scored. Errors that
say nothing about the recordings (the worker's outages) pass through unsplit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import cast

from engines.base import Engine, ScoringItem, prepare
from scoring.assessment import AssessmentResult
from scoring.batching import form_batches
from scoring.failures import FailureReason, RecordingFailure

log = logging.getLogger(__name__)

Loaded = ScoringItem | RecordingFailure
Result = AssessmentResult | RecordingFailure


@dataclass(frozen=True)
class ChunkProgress:
    """Where a scheduled run stands, after each chunk."""

    chunks_done: int
    chunks: int
    recordings_done: int
    recordings: int


def _never(error: Exception) -> bool:
    return False


def score_isolating(
    engine: Engine, items: Sequence[ScoringItem], passes_through: Callable[[Exception], bool] = _never
) -> list[AssessmentResult]:
    """`engine.score(items)`; if it raises (an error `passes_through` does not claim), each half
    again, until the recordings that make it raise fail alone with `engine_error`. The halves
    are scored after the failed call's frames are let go, so a retry never holds its memory."""
    try:
        return engine.score(items)
    except Exception as error:
        if passes_through(error):
            raise
        detail = f"{type(error).__name__}: {error}"
        if len(items) == 1:
            log.warning("the engine cannot score a recording alone: %s", detail, exc_info=True)
    if len(items) == 1:
        return [engine_error(detail)]
    log.warning("the engine raised on %d recordings (%s); scoring each half again", len(items), detail)
    middle = len(items) // 2
    return score_isolating(engine, items[:middle], passes_through) + score_isolating(
        engine, items[middle:], passes_through
    )


def engine_error(detail: str) -> AssessmentResult:
    """The result of a recording the engine raised on when given it alone."""
    return AssessmentResult(failure=RecordingFailure(FailureReason.engine_error, detail))


def _prepared(engine: Engine, load: Callable[[int], Loaded], key: int) -> Loaded:
    """The recording loaded and prepared; one its engine cannot prepare goes on unprepared, to
    be failed alone by `score_isolating` if the engine cannot score it either."""
    loaded = load(key)
    if isinstance(loaded, RecordingFailure):
        return loaded
    try:
        return prepare(engine, loaded)
    except Exception as error:
        log.warning("could not prepare recording %s (%s: %s)", key, type(error).__name__, error)
        return loaded


def score_chunks(
    engine: Engine,
    seconds: Mapping[int, float | None],
    load: Callable[[int], Loaded],
    chunk_seconds: float,
    *,
    loaders: Executor | None = None,
    progress: Callable[[ChunkProgress], None] | None = None,
    passes_through: Callable[[Exception], bool] = _never,
) -> dict[int, Result]:
    """Score the recordings that `seconds` names (key -> length in seconds, None if unknown),
    each loaded by `load` and prepared by the engine: ahead of time on `loaders` when given,
    else when its chunk comes. A recording that does not load, or that the engine cannot score,
    is its own failure; the rest of its chunk is scored. `progress` is called after each chunk,
    and may raise to stop the run; engine errors that `passes_through` claims are raised, not
    isolated."""
    planned = form_batches(list(seconds.items()), chunk_seconds)
    ahead: dict[int, Future[Loaded]] = {}
    if loaders is not None:
        ahead = {key: loaders.submit(_prepared, engine, load, key) for chunk in planned for key in chunk}
    results: dict[int, Result] = {}
    try:
        for done, chunk in enumerate(planned, start=1):
            readable: list[tuple[int, ScoringItem]] = []
            for key in chunk:
                loaded = ahead[key].result() if ahead else _prepared(engine, load, key)
                if isinstance(loaded, RecordingFailure):
                    results[key] = loaded
                else:
                    readable.append((key, loaded))
            if readable:
                scored = score_isolating(engine, [item for _, item in readable], passes_through)
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
