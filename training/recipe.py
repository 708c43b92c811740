"""What a training run learns from and how: every value that shapes the weights, with its source.

The paper (Ahn & Nam 2025, arXiv 2509.02915) states the learning rate, the batch, the gradient
accumulation and the number of epochs. It does not state the optimiser's other settings; for
those the defaults are Microsoft's own speech fine-tuning script for Phi-4-multimodal,
`sample_finetune_speech.py` in the model's repository
(https://huggingface.co/microsoft/Phi-4-multimodal-instruct/blob/main/sample_finetune_speech.py),
whose `TrainingArguments` are `optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.95,
adam_epsilon=1e-7, weight_decay=0.01 (its --wd default), max_grad_norm=1.0,
lr_scheduler_type="linear", warmup_steps=50`. Its learning rate (4e-5) and batch (128) are
replaced by the paper's.

A run's recipe is recorded in its checkpoint and in the adapter's manifest; a checkpoint
resumes only under the recipe it was written with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

Variant = Literal["lora", "unfreeze"]
Schedule = Literal["linear", "cosine", "constant"]
SCHEDULES: tuple[Schedule, ...] = ("linear", "cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    model: str
    out: Path
    revision: str | None = None
    task_format: str = "joint-v1"
    variant: Variant = "lora"
    # The paper's.
    epochs: int = 4
    learning_rate: float = 2e-5
    batch_size: int = 8
    gradient_accumulation: int = 8
    # Microsoft's sample_finetune_speech.py (see the module's docstring).
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_epsilon: float = 1e-7
    weight_decay: float = 0.01
    warmup_steps: int = 50
    schedule: Schedule = "linear"
    max_grad_norm: float | None = 1.0  # None: no clipping
    seed: int = 0
    # How the run goes, not what it learns: free to change between a run and its resumption.
    max_steps: int | None = None  # stop early; the schedule still spans all epochs
    save_every: int | None = None
    max_audio_seconds: float = 40.0
    device: str = "auto"
    dtype: str = "auto"  # compute dtype (autocast); trained tensors are float32 whatever this is


def recipe(
    config: TrainConfig, base_model: str, revision: str | None, compute_dtype: torch.dtype, total_steps: int
) -> dict[str, Any]:
    """Everything that shapes the trained weights except the data (recorded beside it)."""
    return {
        "base_model": base_model,
        "base_revision": revision,
        "task_format": config.task_format,
        "variant": config.variant,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "gradient_accumulation": config.gradient_accumulation,
        "epochs": config.epochs,
        "optimizer": {
            "name": "AdamW",
            "betas": [config.adam_beta1, config.adam_beta2],
            "eps": config.adam_epsilon,
            "weight_decay": config.weight_decay,
            "weight_decay_on": "matrices only (no biases, norm weights or other 1-D tensors)",
        },
        "schedule": {"name": config.schedule, "warmup_steps": config.warmup_steps, "total_steps": total_steps},
        "max_grad_norm": config.max_grad_norm,
        "loss": "token mean per micro-batch, averaged over the micro-batches of each optimiser step",
        "master_weights": "float32",
        "compute_dtype": str(compute_dtype).removeprefix("torch."),
        "seed": config.seed,
    }


def differences(before: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """`name: before -> now` for each value that differs, nested keys joined by dots."""
    found = []
    for key in sorted(before.keys() | now.keys()):
        old, new = before.get(key), now.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found.extend(differences(old, new, f"{prefix}{key}."))
        elif old != new:
            found.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return found
