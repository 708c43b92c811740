"""The Phi-4-multimodal engine: load once, warm up, then score chunks of recordings.

Loading is in `loading`; audio and prompts become embeddings in `inputs` (each recording's
features extracted alone, in `prepare` where the caller runs it ahead, then the audio of a batch
in padding-safe encoder calls, once per recording for all turns); `decoding` decodes them in
the static shapes of `buckets`, or `generation` through transformers' `generate`, the
reference. This class sorts a chunk by length, cuts it into batches that fit those shapes, ties
them to a task format and turns answers into assessments.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Literal

import torch

from engines.base import EngineVersion, ScoringItem
from engines.phi4mm.buckets import BucketPlan, Need
from engines.phi4mm.decoding import FastDecoder, NonFiniteCache, Timings
from engines.phi4mm.generation import generate_tokens, halving
from engines.phi4mm.inputs import (
    PromptTokens,
    RecordingFeatures,
    audio_embed_size,
    audio_embeddings,
    batch_embeddings,
    padded_features,
    recording_features,
)
from engines.phi4mm.loading import (
    TINY_MARKER,
    ModelParts,
    hub_revision,
    load_parts,
    merge_speech_adapter,
    resolve_device,
    resolve_dtype,
)
from engines.phi4mm.manifest import serving_task_format
from engines.phi4mm.spec import NAME
from engines.phi4mm.stopping import StopRule
from engines.phi4mm.version import Phi4Version
from scoring.assessment import AssessmentResult, assess
from scoring.audio import MIN_SAMPLES
from scoring.formats import TaskFormat, get_format
from scoring.lexicon import Lexicon, default_lexicon

log = logging.getLogger(__name__)

DecodeLoop = Literal["fast", "generate"]
# The longest prompt + answer decoded: Phi-4's longrope switches to its long factors past its
# original 4096 positions, which the fast loop's rotary tables do not cover.
MAX_CONTEXT = 4096


@dataclass(frozen=True)
class Phi4Config:
    model: str
    revision: str | None = None
    adapter: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    task_format: str | None = None  # None: the adapter's own (from its manifest), else joint-v1
    adapter_mismatch_ok: bool = False  # serve an adapter trained for another format, base or revision
    decode_loop: DecodeLoop = "fast"
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 96, 128, 192, 256)
    cache_tokens: int = 262144


def phi4_config(settings: Any, **overrides: Any) -> Phi4Config:
    """The engine's part of the settings; overrides that are None keep the setting."""
    values = {
        "model": settings.model,
        "revision": settings.model_revision,
        "adapter": settings.adapter,
        "device": settings.device,
        "dtype": settings.dtype,
        "task_format": settings.task_format,
        "adapter_mismatch_ok": settings.adapter_mismatch_ok,
        "decode_loop": settings.decode_loop,
        "batch_sizes": tuple(settings.batch_sizes),
        "cache_tokens": settings.decode_cache_tokens,
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
        """Load `config.model`, or serve `parts` already in memory (benchmarks of random weights).
        An adapter's manifest is checked first: it decides the task format unless one is set,
        and a mismatch refuses to load (see `manifest.serving_task_format`)."""
        revision = hub_revision(config.model, config.revision)
        task_format = serving_task_format(
            config.adapter, config.task_format, config.model, revision, mismatch_ok=config.adapter_mismatch_ok
        )
        config = replace(config, task_format=task_format)
        self.config = config
        self.task: TaskFormat = get_format(config.task_format)
        self.device = resolve_device(config.device)
        if self.device.type == "cuda":
            # One GPU per process: the allocator's cache, memory figures and any tensor made
            # without a device then belong to this engine's GPU, also for `cuda:N` with N > 0.
            torch.cuda.set_device(self.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        self.lexicon = lexicon or default_lexicon()
        adapter_hash = None
        if parts is None:
            parts = load_parts(config.model, revision, self.device, self.dtype)
            network, adapter_hash = merge_speech_adapter(
                parts.model, config.model, revision, config.adapter, self.device
            )
            parts = ModelParts(network, parts.tokenizer, parts.features)
        parts.model.eval()
        self.parts = parts
        self.prompts = PromptTokens(parts)
        self.stop = StopRule(parts.tokenizer, parts.model.config.vocab_size)
        context = min(MAX_CONTEXT, parts.model.config.original_max_position_embeddings or MAX_CONTEXT)
        self.plan = self._usable(BucketPlan(config.batch_sizes, config.cache_tokens, context))
        self.timings = Timings()
        self.decoder: FastDecoder | None = None
        if config.decode_loop == "fast":
            self.decoder = FastDecoder(parts.model, self.stop, self.plan)
            self.decoder.warm_up()
        self._version = EngineVersion(
            name=_version_name(config, revision, adapter_hash),
            engine=NAME,
            base_model=config.model,
            base_revision=revision,
            artifact_sha256=adapter_hash,
            runtime={"transformers": package_version("transformers"), "torch": torch.__version__},
            detail=Phi4Version(self.task.name, str(self.dtype).removeprefix("torch."), config.decode_loop),
            meaningless=bool(getattr(parts.model.config, TINY_MARKER, False)),
        )

    @property
    def version(self) -> EngineVersion:
        return self._version

    def _shortest_context(self) -> int:
        """The fewest cache slots any recording can need: the shortest audio with a one-word
        sentence, in its task format's longest turn."""
        size = audio_embed_size(self.parts, MIN_SAMPLES)
        prompts = [self.prompts.ids(turn.chat(), size) for turn in self.task.turns("a")]
        return max(len(p) + b for p, b in zip(prompts, self.task.max_new_tokens("a"), strict=True))

    def _usable(self, plan: BucketPlan) -> BucketPlan:
        """`plan` without the batch sizes whose share of the cache no recording fits, which would
        be warmed up (captured) for nothing; said once, at start."""
        if self.config.decode_loop != "fast":
            return plan
        shortest = self._shortest_context()
        usable = plan.fitting(shortest)
        dropped = sorted(set(plan.batch_sizes) - set(usable.batch_sizes))
        if dropped:
            log.warning(
                "batch sizes %s dropped: at %d cache slots their rows get %s slots, fewer than the "
                "%d the shortest recording needs (raise PRONSCORE_DECODE_CACHE_TOKENS to use them)",
                ",".join(map(str, dropped)),
                plan.cache_tokens,
                ",".join(str(plan.cache_length(size)) for size in dropped),
                shortest,
            )
        return usable

    def prepare(self, item: ScoringItem) -> ScoringItem:
        """The item with its log-mel features extracted (the CPU part of scoring it), so that
        the worker's fetch threads do it while the GPU scores earlier recordings."""
        if isinstance(item.prepared, RecordingFeatures):
            return item
        return replace(item, prepared=recording_features(self.parts, item.samples))

    def _features(self, item: ScoringItem) -> RecordingFeatures:
        prepared = item.prepared
        return prepared if isinstance(prepared, RecordingFeatures) else recording_features(self.parts, item.samples)

    def generate(self, items: Sequence[ScoringItem]) -> tuple[list[list[str]], float]:
        """Raw generations per item, one per turn of the task format; and the milliseconds spent per item.

        Items are sorted by length and cut into batches that fit the decoder's shapes; each
        batch's audio is encoded once and decoded with every turn's prompt."""
        started = time.perf_counter()
        order = sorted(range(len(items)), key=lambda index: len(items[index].samples))
        turns = self.task.turns("")
        objects = [turn.answer == "json" for turn in turns]
        prompts, budgets = [], []
        for index in order:
            size = audio_embed_size(self.parts, len(items[index].samples))
            text = items[index].reference_text
            prompts.append([self.prompts.ids(turn.chat(), size) for turn in self.task.turns(text)])
            budgets.append(self.task.max_new_tokens(text))
        needs = [
            [Need(len(p), b) for p, b in zip(row, budget, strict=True)]
            for row, budget in zip(prompts, budgets, strict=True)
        ]
        if self.decoder is not None:
            groups, too_long = self.plan.split(needs)
        else:
            step = self.plan.max_rows
            groups, too_long = [list(range(i, min(i + step, len(order)))) for i in range(0, len(order), step)], []
        batch = partial(self._batch, [items[index] for index in order], prompts, budgets, objects)
        outputs: dict[int, list[str]] = {}
        for group in groups:
            outputs.update(zip(group, halving(partial(batch, fast=self.decoder is not None), group), strict=True))
        for row in too_long:  # longer than the fast loop's cache: decoded alone by the reference
            outputs.update(zip([row], halving(partial(batch, fast=False), [row]), strict=True))
        by_item = {index: outputs[row] for row, index in enumerate(order)}
        return [by_item[index] for index in range(len(items))], (time.perf_counter() - started) * 1000 / max(
            len(items), 1
        )

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _batch(
        self,
        items: Sequence[ScoringItem],
        prompts: Sequence[Sequence[list[int]]],
        budgets: Sequence[Sequence[int]],
        objects: Sequence[bool],
        rows: Sequence[int],
        fast: bool,
    ) -> list[list[str]]:
        """The raw answers of `rows`: their audio encoded in one call, then each turn decoded as
        one batch (`objects[turn]`: whether that turn answers with a JSON object)."""
        timings = self.timings
        started = time.perf_counter()
        features = padded_features([self._features(items[row]) for row in rows])
        timings.features += time.perf_counter() - started
        started = time.perf_counter()
        audio = audio_embeddings(self.parts, features)
        self._synchronize()
        timings.encoder += time.perf_counter() - started
        answers: list[list[str]] = [[] for _ in rows]
        for turn, braces in enumerate(objects):
            started = time.perf_counter()
            ids = [prompts[row][turn] for row in rows]
            limits = [budgets[row][turn] for row in rows]
            embeds, mask = batch_embeddings(self.parts, ids, audio, self.prompts.pad_id)
            self._synchronize()
            timings.prompts += time.perf_counter() - started
            if fast and self.decoder is not None:
                try:
                    tokens = self.decoder.decode(embeds, [len(i) for i in ids], limits, braces, timings)
                except NonFiniteCache as error:
                    log.warning("%s; decoding the batch's %d rows one by one by the reference", error, len(rows))
                    tokens = self._alone(ids, audio, limits, braces)
            else:
                started = time.perf_counter()
                tokens = generate_tokens(self.parts, embeds, mask, limits, self.stop, braces)
                timings.decode += time.perf_counter() - started
            timings.answers += len(tokens)
            timings.answer_tokens += sum(len(t) for t in tokens)
            texts = self.parts.tokenizer.batch_decode(tokens, skip_special_tokens=True)
            for row, text in enumerate(texts):
                answers[row].append(text)
        return answers

    def _alone(
        self, ids: Sequence[list[int]], audio: Sequence[torch.Tensor], limits: Sequence[int], braces: bool
    ) -> list[list[int]]:
        """Each row decoded alone by `generate`, which keeps no state between calls: what a batch
        falls back to when it would write non-finite values into the fast loop's shared cache."""
        tokens = []
        for prompt, embedding, limit in zip(ids, audio, limits, strict=True):
            embeds, mask = batch_embeddings(self.parts, [prompt], [embedding], self.prompts.pad_id)
            tokens += generate_tokens(self.parts, embeds, mask, [limit], self.stop, braces)
        return tokens

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        """Assessments in the order of `items`; unreadable answers are failures, never exceptions."""
        if not items:
            return []
        outputs, millis = self.generate(items)
        results = []
        for item, raw in zip(items, outputs, strict=True):
            result = assess(item.reference_text, self.task.parse(raw), "\n\n".join(raw), self.lexicon)
            results.append(replace(result, generation_ms=millis, meaningless=self.version.meaningless))
        return results

    def close(self) -> None:
        """Free the model's memory (a worker shutting down, a benchmark switching sizes)."""
        del self.parts, self.decoder
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
