"""The engine contract: what an engine scores, what it says about itself, and what the registry
knows of it (its settings, its command-line options and how it loads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic_settings import BaseSettings

from scoring.assessment import AssessmentResult
from scoring.audio import SAMPLE_RATE


@dataclass(frozen=True)
class ScoringItem:
    """One decoded recording (16 kHz mono float32) and the sentence the learner read;
    `prepared`: what an engine's `prepare` computed from them ahead of scoring (None if not)."""

    samples: np.ndarray
    reference_text: str
    prepared: object | None = None

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


class VersionDetail(Protocol):
    """What one engine alone records about its version (Phi-4's task format and decoding, GOP's
    calibration)."""

    def to_dict(self) -> dict[str, Any]:
        """Its keys in the `model` object of an assessment's JSON."""
        ...

    def columns(self) -> dict[str, Any]:
        """Its `model_versions` columns: `task_format` and `decoding`."""
        ...


@dataclass(frozen=True)
class EngineVersion:
    """What produced an assessment, as recorded in `model_versions`: a replay of the same
    version upserts the same rows, and a changed model, artifact or format is a new version.

    Every engine has a base model and its revision (a hub id and revision, or the acoustic model
    a wheel ships and the wheel's version), the sha256 of the artifact trained for it (Phi-4's
    adapter, GOP's calibration; None for the base model's own), and the libraries whose
    versions shape its results (`runtime`). What only one engine has is in `detail`."""

    name: str
    engine: str
    base_model: str
    base_revision: str | None
    artifact_sha256: str | None
    runtime: Mapping[str, str]
    detail: VersionDetail
    meaningless: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": self.engine,
            "base": self.base_model,
            "base_revision": self.base_revision,
            "artifact_sha256": self.artifact_sha256,
            "runtime": dict(self.runtime),
            **self.detail.to_dict(),
            **({"meaningless": True} if self.meaningless else {}),
        }

    def row(self) -> dict[str, Any]:
        """The `model_versions` columns of this version (the artifact's sha256 is in the
        column named for the first engine's artifact, `adapter_sha256`)."""
        return {
            "name": self.name,
            "base_model": self.base_model,
            "base_revision": self.base_revision,
            "adapter_sha256": self.artifact_sha256,
            "meaningless": self.meaningless,
            **self.detail.columns(),
        }


class Engine(Protocol):
    """Scores recordings. `score` returns one result per item, in order, and never raises for
    what a model says: an answer it cannot read is a failed result, not an exception."""

    @property
    def version(self) -> EngineVersion: ...

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]: ...

    def close(self) -> None: ...


@runtime_checkable
class Preparing(Protocol):
    """An engine that can do part of its work on a recording before scoring it, off the
    critical path (the worker runs it on its fetch threads, as each recording is decoded).
    `prepare` returns the item with `prepared` set; a prepared item scores exactly as the
    unprepared one does, and `score` takes either."""

    def prepare(self, item: ScoringItem) -> ScoringItem: ...


def prepare(engine: Engine, item: ScoringItem) -> ScoringItem:
    """`item` prepared by `engine` if it prepares anything, else as it is."""
    return engine.prepare(item) if isinstance(engine, Preparing) else item


@dataclass(frozen=True)
class EngineOption:
    """A command-line option that sets one of an engine's settings for one command. Its help is
    the setting's description; `picks_engine`: giving it chooses this engine when `--engine` is
    not given; `old_flag`: a former name, still read with a warning."""

    flag: str
    setting: str
    picks_engine: bool = False
    old_flag: str | None = None


@dataclass(frozen=True)
class EngineSpec:
    """An engine as the registry knows it, without loading it: its name and a one-line summary
    (for help and the settings table), its settings (a `BaseSettings` class read from the same
    `PRONSCORE_*` variables as the rest), how it loads from them, and its command-line options.
    `picked_by`: settings whose being set chooses this engine when `PRONSCORE_ENGINE` is empty.
    `trim`: settings to change when it will score only a few recordings (a start-up that
    prepares for fewer), given its settings and the count. `process_per_core`: it scores on one
    CPU core per process, so a worker runs a process per core (else one process, which holds a
    whole GPU)."""

    name: str
    summary: str
    settings: type[BaseSettings]
    load: Callable[[Any], Engine]
    options: tuple[EngineOption, ...] = ()
    picked_by: tuple[str, ...] = ()
    trim: Callable[[Any, int], dict[str, Any]] | None = None
    process_per_core: bool = False
