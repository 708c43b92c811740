"""The Phi-4-multimodal engine: load once, then score chunks of recordings.

Loading is in `loading`, prompts and audio become embeddings in `inputs`, and `generation`
decodes them; this class ties them to a task format and turns answers into assessments.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from engines.base import EngineVersion, ScoringItem
from engines.phi4mm.generation import Request, greedy_halving
from engines.phi4mm.loading import (
    TINY_MARKER,
    ModelParts,
    hub_revision,
    load_parts,
    merge_speech_adapter,
    resolve_device,
    resolve_dtype,
)
from scoring.assessment import AssessmentResult, assess
from scoring.formats import TaskFormat, get_format
from scoring.lexicon import Lexicon, default_lexicon
from scoring.parsing import parse_outputs


@dataclass(frozen=True)
class Phi4Config:
    model: str
    revision: str | None = None
    adapter: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    task_format: str = "joint-v1"
    static_cache: bool = False


def phi4_config(settings: Any, **overrides: Any) -> Phi4Config:
    """The engine's part of the settings; overrides that are None keep the setting."""
    values = {
        "model": settings.model,
        "revision": settings.model_revision,
        "adapter": settings.adapter,
        "device": settings.device,
        "dtype": settings.dtype,
        "task_format": settings.task_format,
        "static_cache": settings.static_cache,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Phi4Config(**values)


def _version_name(config: Phi4Config, revision: str | None, adapter_hash: str | None) -> str:
    base = config.model.rstrip("/").split("/")[-1] if Path(config.model).is_dir() else config.model
    pinned = f"@{revision}" if revision else ""
    adapter = f"+{adapter_hash[:12]}" if adapter_hash else "+speech-lora"
    return f"{base}{pinned}{adapter}/{config.task_format}"


class Phi4Engine:
    """Phi-4-multimodal with a merged speech LoRA, scoring recordings in one task format."""

    def __init__(self, config: Phi4Config, lexicon: Lexicon | None = None, parts: ModelParts | None = None) -> None:
        """Load `config.model`, or serve `parts` already in memory (benchmarks of random weights)."""
        self.config = config
        self.task: TaskFormat = get_format(config.task_format)
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        self.lexicon = lexicon or default_lexicon()
        revision = hub_revision(config.model, config.revision)
        adapter_hash = None
        if parts is None:
            parts = load_parts(config.model, revision, self.device, self.dtype)
            network, adapter_hash = merge_speech_adapter(
                parts.model, config.model, revision, config.adapter, self.device
            )
            parts = ModelParts(network, parts.tokenizer, parts.features)
        parts.model.eval()
        self.parts = parts
        self._version = EngineVersion(
            name=_version_name(config, revision, adapter_hash),
            base_model=config.model,
            base_revision=revision,
            adapter_sha256=adapter_hash,
            task_format=self.task.name,
            decoding={
                "strategy": "greedy",
                "dtype": str(self.dtype).removeprefix("torch."),
                "cache": "static" if config.static_cache else "dynamic",
            },
            meaningless=bool(getattr(parts.model.config, TINY_MARKER, False)),
        )

    @property
    def version(self) -> EngineVersion:
        return self._version

    def generate(self, items: Sequence[ScoringItem]) -> tuple[list[list[str]], float]:
        """Raw generations per item, one per turn of the task format, decoded as one batch per
        turn; and the milliseconds spent per item."""
        started = time.perf_counter()
        outputs: list[list[str]] = [[] for _ in items]
        turns = [self.task.turns(item.reference_text) for item in items]
        budgets = [self.task.max_new_tokens(item.reference_text) for item in items]
        for turn in range(len(self.task.turns(""))):
            requests = [Request(item.samples, turns[i][turn].chat(), budgets[i][turn]) for i, item in enumerate(items)]
            for row, text in enumerate(greedy_halving(self.parts, requests, self.config.static_cache)):
                outputs[row].append(text)
        return outputs, (time.perf_counter() - started) * 1000 / max(len(items), 1)

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        """Assessments in the order of `items`; unreadable answers are failures, never exceptions."""
        if not items:
            return []
        outputs, millis = self.generate(items)
        fields = [turn.fields for turn in self.task.turns("")]
        extra = {"meaningless": True} if self.version.meaningless else {}
        results = []
        for item, raw in zip(items, outputs, strict=True):
            result = assess(item.reference_text, parse_outputs(raw, fields), "\n\n".join(raw), self.lexicon)
            results.append(replace(result, generation_ms=millis, extra=extra))
        return results

    def close(self) -> None:
        """Free the model's memory (a worker shutting down, a benchmark switching sizes)."""
        del self.parts
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
