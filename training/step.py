"""One optimiser step of the fine-tuning: what `pronscore train` repeats and the cost benchmark times.

Trained tensors are kept in float32 (master weights) whatever dtype the frozen base is in, and
the forward and backward passes run under autocast in the compute dtype (bf16 on CUDA): an
optimiser updating bf16 weights directly at lr 2e-5 loses most updates to rounding.

A recording's audio embeddings are computed once per step for all its prompts in a micro-batch;
with the `lora` variant the audio encoder is frozen, so they are computed once for the whole run
(in eval mode, exactly as serving computes them) and kept on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from peft import PeftModel
from torch import nn
from transformers import get_scheduler

from engines.phi4mm.loading import ModelParts
from training.examples import audio_embeddings, collate, supervised_example
from training.recipe import TrainConfig

SCHEDULER_NAMES = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


class TrainingDiverged(ValueError):
    """The loss stopped being a number; the step is not applied."""


@dataclass(frozen=True)
class Pair:
    """One supervised example: a recording (by index), one turn's prompt, and its answer."""

    recording: int
    prompt: str
    target: str


@dataclass(frozen=True)
class StepResult:
    loss: float  # mean over the step's micro-batches
    micro_batches: int
    grad_norm: float | None
    learning_rate: float  # the rate this step used


def audio_embed(model: PeftModel) -> nn.Module:
    return model.get_base_model().model.embed_tokens_extend.audio_embed


def audio_trainables(model: PeftModel) -> list[nn.Module]:
    """What `--variant unfreeze` trains besides the LoRA: the audio encoder and its speech
    projection (the vision-speech projection only serves prompts with images, never sent here)."""
    embed = audio_embed(model)
    return [embed.encoder, embed.up_proj_for_speech, embed.down_proj_for_speech]


class AudioEmbeddings:
    """Recordings' audio embeddings by index. `frozen`: computed once, without gradients, and
    kept; otherwise computed in the graph, once per recording of a micro-batch."""

    def __init__(self, parts: ModelParts, load: Callable[[int], np.ndarray], frozen: bool) -> None:
        self.parts, self.load, self.frozen = parts, load, frozen
        self.kept: dict[int, torch.Tensor] = {}
        self.encoded = 0  # encoder passes so far

    def _encode(self, recording: int) -> torch.Tensor:
        self.encoded += 1
        return audio_embeddings(self.parts, self.load(recording))

    def for_batch(self, recordings: Iterable[int]) -> dict[int, torch.Tensor]:
        wanted = dict.fromkeys(recordings)
        if not self.frozen:
            return {recording: self._encode(recording) for recording in wanted}
        missing = [r for r in wanted if r not in self.kept]
        if missing:
            # Outside autocast: the frozen encoder's output is the one serving computes.
            with torch.no_grad(), torch.autocast(self.parts.model.device.type, enabled=False):
                for recording in missing:
                    self.kept[recording] = self._encode(recording).cpu()
        device = self.parts.model.device
        return {recording: self.kept[recording].to(device, non_blocking=True) for recording in wanted}


class FineTuning:
    """A speech-LoRA model set up for training under `config`, and its optimiser step."""

    def __init__(
        self,
        parts: ModelParts,
        config: TrainConfig,
        compute_dtype: torch.dtype,
        load_audio: Callable[[int], np.ndarray],
        total_steps: int,
    ) -> None:
        model = parts.model
        if not isinstance(model, PeftModel):
            raise TypeError("FineTuning needs the model wrapped with its speech LoRA (a peft model)")
        if compute_dtype == torch.float16:
            raise ValueError("training computes in bfloat16 or float32; float16 would need loss scaling")
        self.parts, self.model, self.config = parts, model, config
        self.device = model.device
        self.compute_dtype = compute_dtype
        if config.variant == "unfreeze":
            for module in audio_trainables(model):
                module.requires_grad_(True)
        self.trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
        for parameter in self.trainable.values():
            parameter.data = parameter.data.float()  # master weights; frozen ones stay in the base's dtype
        if self.device.type == "cuda":
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        matrices = [p for p in self.trainable.values() if p.ndim >= 2]
        vectors = [p for p in self.trainable.values() if p.ndim < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": matrices, "weight_decay": config.weight_decay}, {"params": vectors, "weight_decay": 0.0}],
            lr=config.learning_rate,
            betas=(config.adam_beta1, config.adam_beta2),
            eps=config.adam_epsilon,
        )
        self.scheduler = get_scheduler(
            SCHEDULER_NAMES[config.schedule],
            self.optimizer,
            num_warmup_steps=config.warmup_steps,
            num_training_steps=total_steps,
        )
        model.train()
        frozen = config.variant == "lora"
        if frozen:
            audio_embed(model).eval()  # no chunking noise in the frozen encoder: its output is kept
        self.audio = AudioEmbeddings(parts, load_audio, frozen=frozen)

    def _autocast(self) -> AbstractContextManager[Any]:
        return torch.autocast(self.device.type, dtype=self.compute_dtype, enabled=self.compute_dtype != torch.float32)

    def step(self, micro_batches: Sequence[Sequence[Pair]]) -> StepResult:
        """Accumulate gradients over `micro_batches` (each loss weighted 1/len(micro_batches), so a
        short last step of an epoch is an average like any other), clip, and update once."""
        total = torch.zeros((), device=self.device)
        for batch in micro_batches:
            with self._autocast():
                audio = self.audio.for_batch(pair.recording for pair in batch)
                examples = [supervised_example(self.parts, audio[p.recording], p.prompt, p.target) for p in batch]
                loss = self.model(**collate(examples)).loss
            (loss / len(micro_batches)).backward()
            total += loss.detach().float()
        mean = float(total.item()) / len(micro_batches)
        if not math.isfinite(mean):
            self.optimizer.zero_grad(set_to_none=True)
            raise TrainingDiverged(f"the loss became {mean}; the step was not applied")
        grad_norm = None
        if self.config.max_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(self.trainable.values(), self.config.max_grad_norm)
            grad_norm = float(norm.item())
        learning_rate = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(mean, len(micro_batches), grad_norm, learning_rate)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
