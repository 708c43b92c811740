"""Fine-tuning the speech LoRA on speechocean762, as in Ahn & Nam 2025.

Defaults are the paper's: AdamW at lr 2e-5, per-device batch 8 with gradient accumulation 8,
4 epochs, bf16 on CUDA, gradient checkpointing; only the answer tokens are learned. `lora`
trains only the speech LoRA (starting from the base model's own); `unfreeze` also trains the
audio encoder and projector. A checkpoint is written every epoch (and every `save_every`
optimiser steps), from which an interrupted run resumes. The result is a peft adapter with a
manifest naming the base model, the data, the task format, the hyperparameters and the sha256
of the weights.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import torch
from peft import PeftModel, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file, save_file

from engines.phi4mm.loading import (
    ModelParts,
    has_base_speech_adapter,
    hub_revision,
    load_parts,
    resolve_device,
    resolve_dtype,
)
from engines.phi4mm.lora import (
    ADAPTER_MANIFEST,
    AUDIO_WEIGHTS,
    BASE_SPEECH_ADAPTER,
    adapter_sha256,
    speech_lora_config,
)
from scoring.audio import decode
from scoring.formats import get_format
from training.data import load_dataset
from training.examples import collate, supervised_example

log = logging.getLogger(__name__)

Variant = Literal["lora", "unfreeze"]


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    model: str
    out: Path
    revision: str | None = None
    task_format: str = "joint-v1"
    variant: Variant = "lora"
    epochs: int = 4
    max_steps: int | None = None
    learning_rate: float = 2e-5
    batch_size: int = 8
    gradient_accumulation: int = 8
    save_every: int | None = None
    max_audio_seconds: float = 40.0
    device: str = "auto"
    seed: int = 0


@dataclass(frozen=True)
class TrainResult:
    adapter: Path
    steps: int
    loss: float
    resumed_from: int | None


@dataclass
class _State:
    epoch: int = 0
    position: int = 0  # micro-batches done in the current epoch
    step: int = 0  # optimiser steps done


def _trainable_model(parts: ModelParts, config: TrainConfig, revision: str | None) -> PeftModel:
    if has_base_speech_adapter(config.model):
        location = {"subfolder": BASE_SPEECH_ADAPTER} | ({"revision": revision} if revision else {})
        model = PeftModel.from_pretrained(parts.model, config.model, is_trainable=True, **location)
    else:  # a base without its own speech LoRA: start one of the paper's size
        model = get_peft_model(parts.model, speech_lora_config())
    if config.variant == "unfreeze":
        for parameter in _audio_embed(model).parameters():
            parameter.requires_grad_(True)
    return model


def _audio_embed(model: PeftModel) -> torch.nn.Module:
    return model.get_base_model().model.embed_tokens_extend.audio_embed


def _save_checkpoint(
    model: PeftModel, optimizer: torch.optim.Optimizer, state: _State, path: Path, variant: Variant
) -> None:
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    if variant == "unfreeze":
        save_file({k: v.contiguous() for k, v in _audio_embed(model).state_dict().items()}, tmp / AUDIO_WEIGHTS)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps(asdict(state)))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)  # a checkpoint is whole or absent, even if the run is killed while saving


def _load_checkpoint(model: PeftModel, optimizer: torch.optim.Optimizer, path: Path, variant: Variant) -> _State:
    weights = load_file(path / "adapter_model.safetensors", device=str(model.device))
    set_peft_model_state_dict(model, weights)
    if variant == "unfreeze" and (path / AUDIO_WEIGHTS).is_file():
        _audio_embed(model).load_state_dict(load_file(path / AUDIO_WEIGHTS, device=str(model.device)))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=model.device, weights_only=True))
    return _State(**json.loads((path / "state.json").read_text()))


def train(config: TrainConfig, on_step: Callable[[int, int, float], None] | None = None) -> TrainResult:
    """Train, resuming from `out/checkpoint` when present; returns the final adapter."""
    torch.manual_seed(config.seed)
    task = get_format(config.task_format)
    dataset = load_dataset(config.data, "train")
    pairs = [
        (example.audio, turn.chat(), target)
        for example in dataset.examples
        for turn, target in zip(task.turns(example.utterance.text), task.targets(example.utterance), strict=True)
    ]
    device = resolve_device(config.device)
    dtype = resolve_dtype("auto", device)
    revision = hub_revision(config.model, config.revision)
    parts = load_parts(config.model, revision, device, dtype)
    model = _trainable_model(parts, config, revision)
    if device.type == "cuda":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    parts = ModelParts(model, parts.tokenizer, parts.features)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)

    checkpoint = config.out / "checkpoint"
    state, resumed_from = _State(), None
    if (checkpoint / "state.json").is_file():
        state = _load_checkpoint(model, optimizer, checkpoint, config.variant)
        resumed_from = state.step
        log.info("resuming from step %d (epoch %d)", state.step, state.epoch + 1)

    micro_per_epoch = -(-len(pairs) // config.batch_size)
    steps_per_epoch = -(-micro_per_epoch // config.gradient_accumulation)
    total_steps = min(config.max_steps or steps_per_epoch * config.epochs, steps_per_epoch * config.epochs)
    loss_value = float("nan")
    model.train()
    while state.epoch < config.epochs and state.step < total_steps:
        order = list(range(len(pairs)))
        random.Random(config.seed + state.epoch).shuffle(order)
        while state.position < micro_per_epoch and state.step < total_steps:
            chunk = order[state.position * config.batch_size : (state.position + 1) * config.batch_size]
            examples = [
                supervised_example(parts, decode(pairs[i][0].read_bytes(), config.max_audio_seconds), *pairs[i][1:])
                for i in chunk
            ]
            with torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda"):
                loss = model(**collate(examples)).loss
            (loss / config.gradient_accumulation).backward()
            loss_value = float(loss.item())
            state.position += 1
            if state.position % config.gradient_accumulation == 0 or state.position == micro_per_epoch:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                if on_step:
                    on_step(state.step, total_steps, loss_value)
                if config.save_every and state.step % config.save_every == 0:
                    _save_checkpoint(model, optimizer, state, checkpoint, config.variant)
        if state.position >= micro_per_epoch:
            state.epoch, state.position = state.epoch + 1, 0
            _save_checkpoint(model, optimizer, state, checkpoint, config.variant)
            shutil.copytree(checkpoint, config.out / f"epoch-{state.epoch}", dirs_exist_ok=True)
    _save_checkpoint(model, optimizer, state, checkpoint, config.variant)

    adapter = config.out / "adapter"
    shutil.rmtree(adapter, ignore_errors=True)
    model.save_pretrained(str(adapter))
    if config.variant == "unfreeze":
        save_file({k: v.contiguous() for k, v in _audio_embed(model).state_dict().items()}, adapter / AUDIO_WEIGHTS)
    manifest = {
        "base_model": config.model,
        "base_revision": revision,
        "task_format": config.task_format,
        "variant": config.variant,
        "data": {
            "source": str(dataset.source),
            "fingerprint": dataset.fingerprint(),
            "utterances": len(dataset.examples),
        },
        "hyperparameters": {
            "optimizer": "AdamW",
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "gradient_accumulation": config.gradient_accumulation,
            "epochs": config.epochs,
            "max_steps": config.max_steps,
            "dtype": str(dtype),
            "seed": config.seed,
        },
        "steps": state.step,
        "final_loss": loss_value,
        "weights_sha256": adapter_sha256(adapter),
        "created_at": datetime.now(UTC).isoformat(),
    }
    (adapter / ADAPTER_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return TrainResult(adapter, state.step, loss_value, resumed_from)
