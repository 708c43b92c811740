"""The engine interface's shared scheduling, with an engine that records what it was given."""

from collections.abc import Sequence

import numpy as np

from engines import EngineVersion, ScoringItem, score_in_chunks
from scoring.assessment import AssessmentResult
from scoring.audio import SAMPLE_RATE
from scoring.failures import FailureReason, RecordingFailure


class NoDetail:
    def to_dict(self) -> dict[str, str]:
        return {}

    def columns(self) -> dict[str, None]:
        return {"task_format": None, "decoding": None}


class RecordingEngine:
    """Answers every item with a failed result naming its text; remembers each call."""

    version = EngineVersion("recorder", "recorder", "none", None, None, {}, NoDetail())

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        self.calls.append([item.reference_text for item in items])
        return [
            AssessmentResult(failure=RecordingFailure(FailureReason.unparseable_output, item.reference_text))
            for item in items
        ]

    def close(self) -> None:
        pass


def _item(seconds: float, text: str) -> ScoringItem:
    return ScoringItem(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32), text)


def test_chunks_are_shortest_first_within_the_budget_and_results_keep_the_input_order() -> None:
    items = [_item(5, "five"), _item(1, "one"), _item(3, "three"), _item(2, "two"), _item(7, "seven")]
    engine = RecordingEngine()
    results = score_in_chunks(engine, items, chunk_seconds=6)
    assert engine.calls == [["one", "two", "three"], ["five"], ["seven"]]
    assert [r.failure.detail for r in results] == ["five", "one", "three", "two", "seven"]


def test_no_items_no_calls() -> None:
    engine = RecordingEngine()
    assert score_in_chunks(engine, [], chunk_seconds=6) == []
    assert engine.calls == []


def test_progress_is_reported_after_each_chunk() -> None:
    items = [_item(5, "five"), _item(1, "one"), _item(3, "three"), _item(2, "two"), _item(7, "seven")]
    seen: list[tuple[int, int]] = []
    score_in_chunks(RecordingEngine(), items, chunk_seconds=6, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 5), (4, 5), (5, 5)]
