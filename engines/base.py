"""The engine interface: score recordings, say exactly what scored them, and let go of the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from scoring.assessment import AssessmentResult
from scoring.audio import SAMPLE_RATE


@dataclass(frozen=True)
class ScoringItem:
    """One decoded recording (16 kHz mono float32) and the sentence the learner read."""

    samples: np.ndarray
    reference_text: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class EngineVersion:
    """What produced an assessment, as recorded in `model_versions`: a replay of the same
    version upserts the same rows, and a changed model, adapter or format is a new version."""

    name: str
    base_model: str
    base_revision: str | None
    adapter_sha256: str | None
    task_format: str
    decoding: dict[str, Any] = field(default_factory=dict)
    meaningless: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base_model,
            "base_revision": self.base_revision,
            "adapter_sha256": self.adapter_sha256,
            "task_format": self.task_format,
            **({"meaningless": True} if self.meaningless else {}),
        }

    def row(self) -> dict[str, Any]:
        """The `model_versions` columns of this version."""
        return {
            "name": self.name,
            "base_model": self.base_model,
            "base_revision": self.base_revision,
            "adapter_sha256": self.adapter_sha256,
            "task_format": self.task_format,
            "decoding": self.decoding,
            "meaningless": self.meaningless,
        }


class Engine(Protocol):
    """Scores recordings. `score` returns one result per item, in order, and never raises for
    what a model says: an answer it cannot read is a failed result, not an exception."""

    @property
    def version(self) -> EngineVersion: ...

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]: ...

    def close(self) -> None: ...
