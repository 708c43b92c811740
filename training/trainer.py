"""Fine-tuning the speech LoRA on speechocean762, as in Ahn & Nam 2025.

The recipe (`training.recipe`) is the paper's where it states one and Microsoft's speech
fine-tuning script's where it does not. `lora` trains only the speech LoRA (starting from the
base model's own); `unfreeze` also trains the audio encoder and its speech projection; only the
answer tokens are learned. A checkpoint is written every epoch (and every `save_every` optimiser
steps); rerunning the same command resumes from it, and a different recipe or corpus is refused.
The result is a peft adapter with a manifest naming the base model, the data, the task format,
the recipe and the sha256 of the weights; the engine checks it before serving the adapter.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel, get_peft_model

from engines.phi4mm.loading import (
    ModelParts,
    has_base_speech_adapter,
    hub_revision,
    load_parts,
    resolve_device,
    resolve_dtype,
)
from engines.phi4mm.lora import ADAPTER_MANIFEST, BASE_SPEECH_ADAPTER, adapter_sha256, speech_lora_config
from engines.phi4mm.manifest import base_model_id
from scoring.audio import decode
from scoring.formats import get_format
from training.checkpoints import Progress, check_resumable, load_checkpoint, read_saved, save_checkpoint, save_weights
from training.data import Dataset, load_dataset
from training.recipe import TrainConfig, Variant, recipe
from training.step import FineTuning, Pair

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "TrainResult", "Variant", "train"]


@dataclass(frozen=True)
class TrainResult:
    adapter: Path
    steps: int
    loss: float | None  # the last step's loss; None if no step was ever taken
    resumed_from: int | None
    finished: bool  # every epoch done
    trained: bool  # False when the run was already done and nothing was written


@dataclass(frozen=True)
class _Plan:
    """How many micro-batches and steps the data makes, and where this call stops."""

    micro_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    stop: int


def _plan(pairs: int, config: TrainConfig) -> _Plan:
    micro = -(-pairs // config.batch_size)
    per_epoch = -(-micro // config.gradient_accumulation)
    total = per_epoch * config.epochs
    return _Plan(micro, per_epoch, total, min(config.max_steps or total, total))


def training_pairs(dataset: Dataset, task_format: str) -> list[Pair]:
    task = get_format(task_format)
    return [
        Pair(index, turn.chat(), target)
        for index, example in enumerate(dataset.examples)
        for turn, target in zip(task.turns(example.utterance.text), task.targets(example.utterance), strict=True)
    ]


def speech_lora_model(parts: ModelParts, model: str, revision: str | None) -> PeftModel:
    """The base with its own speech LoRA, trainable; a base without one gets a fresh LoRA of
    the paper's size."""
    if has_base_speech_adapter(model):
        location = {"subfolder": BASE_SPEECH_ADAPTER} | ({"revision": revision} if revision else {})
        return PeftModel.from_pretrained(parts.model, model, is_trainable=True, **location)
    return get_peft_model(parts.model, speech_lora_config())


_IDENTITY = ("base_model", "base_revision", "task_format", "variant")  # top-level manifest fields


def _manifest(run: dict[str, Any], source: Path, progress: Progress, plan: _Plan, directory: Path) -> dict[str, Any]:
    r = run["recipe"]
    return {
        "base_model": r["base_model"],
        "base_revision": r["base_revision"],
        "task_format": r["task_format"],
        "variant": r["variant"],
        "data": {"source": str(source), **run["data"]},
        "hyperparameters": {k: v for k, v in r.items() if k not in _IDENTITY},
        "steps": progress.step,
        "epochs_done": progress.epoch,
        "finished": progress.step >= plan.total_steps,
        "final_loss": progress.last_loss,
        "weights_sha256": adapter_sha256(directory),
        "created_at": datetime.now(UTC).isoformat(),
    }


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / ADAPTER_MANIFEST).write_text(json.dumps(manifest, indent=2, allow_nan=False))


def _adapter_is_current(adapter: Path, steps: int) -> bool:
    manifest = adapter / ADAPTER_MANIFEST
    return manifest.is_file() and json.loads(manifest.read_text()).get("steps") == steps


def train(config: TrainConfig, on_step: Callable[[int, int, float], None] | None = None) -> TrainResult:
    """Train, resuming from `out/checkpoint` when its recipe and data are this run's; returns the
    adapter. A run already at its end (or at `max_steps`) leaves everything as it is."""
    dataset = load_dataset(config.data, "train")
    source = dataset.source.resolve()
    pairs = training_pairs(dataset, config.task_format)
    device = resolve_device(config.device)
    compute_dtype = resolve_dtype(config.dtype, device)
    revision = hub_revision(config.model, config.revision)
    plan = _plan(len(pairs), config)
    run = {
        "recipe": recipe(config, base_model_id(config.model), revision, compute_dtype, plan.total_steps),
        "data": {"fingerprint": dataset.fingerprint(), "utterances": len(dataset.examples)},
    }
    checkpoint, adapter = config.out / "checkpoint", config.out / "adapter"
    saved = read_saved(checkpoint)
    if saved is not None:
        check_resumable(saved, run, checkpoint)
        done = saved.progress
        if done.step >= plan.stop and _adapter_is_current(adapter, done.step):
            log.info("nothing to do: the run is at step %d of %d", done.step, plan.total_steps)
            return TrainResult(adapter, done.step, done.last_loss, None, done.step >= plan.total_steps, False)

    torch.manual_seed(config.seed)
    parts = load_parts(config.model, revision, device, compute_dtype)  # the frozen base; trained tensors become float32
    parts = ModelParts(speech_lora_model(parts, config.model, revision), parts.tokenizer, parts.features)
    examples = dataset.examples
    fine_tuning = FineTuning(
        parts,
        config,
        compute_dtype,
        lambda index: decode(examples[index].audio.read_bytes(), config.max_audio_seconds),
        plan.total_steps,
    )
    progress, resumed_from, written = Progress(), None, None
    if saved is not None:
        load_checkpoint(fine_tuning, checkpoint)
        progress, resumed_from = saved.progress, saved.progress.step
        written = (progress.step, progress.position)
        log.info("resuming from step %d (epoch %d)", progress.step, progress.epoch + 1)

    while progress.step < plan.stop:
        order = list(range(len(pairs)))
        random.Random(config.seed + progress.epoch).shuffle(order)
        micro = [
            [pairs[i] for i in order[start : start + config.batch_size]]
            for start in range(0, len(order), config.batch_size)
        ]
        while progress.position < plan.micro_per_epoch and progress.step < plan.stop:
            group = micro[progress.position : progress.position + config.gradient_accumulation]
            result = fine_tuning.step(group)
            progress.position += len(group)
            progress.step += 1
            progress.last_loss = result.loss
            if on_step:
                on_step(progress.step, plan.stop, result.loss)
            if config.save_every and progress.step % config.save_every == 0:
                save_checkpoint(fine_tuning, progress, run, checkpoint)
                written = (progress.step, progress.position)
        if progress.position >= plan.micro_per_epoch:
            progress.epoch, progress.position = progress.epoch + 1, 0
            save_checkpoint(fine_tuning, progress, run, checkpoint)
            written = (progress.step, progress.position)
            epoch_copy = config.out / f"epoch-{progress.epoch}"
            shutil.copytree(checkpoint, epoch_copy, dirs_exist_ok=True)
            _write_manifest(epoch_copy, _manifest(run, source, progress, plan, epoch_copy))
    if written != (progress.step, progress.position):
        save_checkpoint(fine_tuning, progress, run, checkpoint)

    shutil.rmtree(adapter, ignore_errors=True)
    save_weights(fine_tuning, adapter)
    _write_manifest(adapter, _manifest(run, source, progress, plan, adapter))
    finished = progress.step >= plan.total_steps
    return TrainResult(adapter, progress.step, progress.last_loss, resumed_from, finished, True)
