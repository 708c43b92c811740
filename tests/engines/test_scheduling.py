"""The chunk scheduler with engines that record what they are given: chunks, loading ahead, and
a chunk the engine cannot score split until only the recordings that cause the error fail."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines import ScoringItem
from engines.base import prepare
from engines.scheduling import score_chunks, score_in_chunks, score_isolating
from scoring.assessment import AssessmentResult
from scoring.audio import SAMPLE_RATE
from scoring.failures import FailureReason, RecordingFailure
from tests.factories import fake_version, scored


class PickyEngine:
    """Scores every item, unless one of `poison` (by text) is among them: then the whole call
    raises, as an engine that cannot handle a recording's shape does."""

    version = fake_version("picky")

    def __init__(self, poison: set[str] = frozenset(), error: type[Exception] = RuntimeError) -> None:
        self.poison, self.error = poison, error
        self.calls: list[list[str]] = []

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        texts = [item.reference_text for item in items]
        self.calls.append(texts)
        if self.poison & set(texts):
            raise self.error("The size of tensor a (6) must match the size of tensor b (7)")
        return [scored((7, 8, 7, 7)) for _ in items]

    def close(self) -> None:
        pass


def _item(seconds: float, text: str) -> ScoringItem:
    return ScoringItem(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32), text)


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 80),
    data=st.data(),
)
def test_only_the_recordings_that_make_the_engine_raise_fail(count: int, data: st.DataObject) -> None:
    texts = [f"r{i}" for i in range(count)]
    poison = set(data.draw(st.lists(st.sampled_from(texts), max_size=4)))
    engine = PickyEngine(poison)
    results = score_isolating(engine, [_item(1.0, text) for text in texts])
    failed = {text for text, result in zip(texts, results, strict=True) if not result.scored}
    assert failed == poison
    for text, result in zip(texts, results, strict=True):
        if text in poison:
            assert result.failure.reason is FailureReason.engine_error
            assert result.failure.detail == "RuntimeError: The size of tensor a (6) must match the size of tensor b (7)"
    # Each poisoned recording costs at most two calls per halving level.
    levels = max(1, count - 1).bit_length()
    assert len(engine.calls) <= 1 + 2 * levels * max(1, len(poison))


def test_an_error_that_passes_through_is_raised_unsplit() -> None:
    engine = PickyEngine({"r2"}, error=ConnectionError)
    with pytest.raises(ConnectionError):
        score_isolating(engine, [_item(1.0, f"r{i}") for i in range(8)], lambda e: isinstance(e, ConnectionError))
    assert len(engine.calls) == 1


def test_chunks_isolate_and_keep_the_input_order() -> None:
    items = [_item(5, "five"), _item(1, "one"), _item(3, "three"), _item(2, "two"), _item(7, "seven")]
    engine = PickyEngine({"two"})
    results = score_in_chunks(engine, items, chunk_seconds=6)
    assert [r.scored for r in results] == [True, True, True, False, True]
    assert engine.calls[0] == ["one", "two", "three"], "shortest first, within the budget"


def test_loading_ahead_on_threads_and_failures_of_loading() -> None:
    seconds = {1: 2.0, 2: 1.0, 3: 4.0, 4: None}
    loaded: list[int] = []

    def load(key: int) -> ScoringItem | RecordingFailure:
        loaded.append(key)
        if key == 3:
            return RecordingFailure(FailureReason.object_missing, "gone")
        return _item(seconds[key] or 1.0, f"k{key}")

    engine = PickyEngine()
    with ThreadPoolExecutor(2) as threads:
        results = score_chunks(engine, seconds, load, chunk_seconds=3.0, loaders=threads)
    assert sorted(loaded) == [1, 2, 3, 4]
    assert engine.calls == [["k2", "k4"], ["k1"]], "an unknown length counts as a second"
    assert isinstance(results[3], RecordingFailure) and all(results[k].scored for k in (1, 2, 4))


class PreparingEngine(PickyEngine):
    """Prepares each item by noting the thread that did it; items named in `unpreparable` raise."""

    def __init__(self, unpreparable: set[str] = frozenset()) -> None:
        super().__init__()
        self.unpreparable = unpreparable
        self.seen: list[ScoringItem] = []

    def prepare(self, item: ScoringItem) -> ScoringItem:
        if item.reference_text in self.unpreparable:
            raise ValueError("cannot prepare this one")
        return replace(item, prepared=threading.current_thread().name)

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        self.seen.extend(items)
        return super().score(items)


def test_an_engine_prepares_each_recording_on_the_loading_threads() -> None:
    engine = PreparingEngine()
    items = {i: _item(1.0 + i, f"r{i}") for i in range(6)}
    with ThreadPoolExecutor(2, thread_name_prefix="fetch") as loaders:
        results = score_chunks(engine, {k: v.seconds for k, v in items.items()}, items.__getitem__, 4, loaders=loaders)
    assert all(result.scored for result in results.values())
    assert len(engine.seen) == 6
    assert all(str(item.prepared).startswith("fetch") for item in engine.seen)


def test_without_loading_threads_each_recording_is_prepared_when_its_chunk_comes() -> None:
    engine = PreparingEngine()
    score_in_chunks(engine, [_item(1.0, "a"), _item(2.0, "b")], chunk_seconds=10)
    assert [item.prepared for item in engine.seen] == [threading.current_thread().name] * 2


def test_a_recording_the_engine_cannot_prepare_goes_to_it_unprepared() -> None:
    engine = PreparingEngine(unpreparable={"b"})
    results = score_in_chunks(engine, [_item(1.0, "a"), _item(2.0, "b")], chunk_seconds=10)
    assert all(result.scored for result in results)
    assert {item.reference_text: item.prepared is None for item in engine.seen} == {"a": False, "b": True}


def test_an_engine_without_prepare_gets_the_items_as_loaded() -> None:
    engine = PickyEngine()
    item = _item(1.0, "a")
    assert prepare(engine, item) is item
