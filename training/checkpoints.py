"""A run's checkpoint: weights, optimiser and schedule, progress, random state, and the recipe.

A checkpoint is whole or absent (written beside, then renamed), and it resumes only under the
recipe and data it was written with: a different batch size, learning rate or corpus would
train on from weights and optimiser moments that no longer describe the run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load_file, save_file

from engines.phi4mm.lora import AUDIO_WEIGHTS
from training.recipe import differences
from training.step import FineTuning, audio_embed

RUN_FILE = "run.json"
STATE_FILE = "state.json"


class ResumeRefused(ValueError):
    """The checkpoint in OUT belongs to another recipe or other data."""


@dataclass
class Progress:
    epoch: int = 0  # epochs completed
    position: int = 0  # micro-batches done in the current epoch
    step: int = 0  # optimiser steps done
    last_loss: float | None = None  # the loss of the last step taken, None before the first


@dataclass(frozen=True)
class Saved:
    run: dict[str, Any]  # {"recipe": ..., "data": {"fingerprint": ..., "utterances": ...}}
    progress: Progress


def read_saved(path: Path) -> Saved | None:
    """What a checkpoint says of itself, without loading any weights; None when there is none."""
    if not (path / STATE_FILE).is_file():
        return None
    if not (path / RUN_FILE).is_file():
        raise ResumeRefused(
            f"{path} was written without a record of its recipe (an older pronscore), so it cannot be "
            "resumed safely; train into a new --out"
        )
    run = json.loads((path / RUN_FILE).read_text())
    return Saved(run, Progress(**json.loads((path / STATE_FILE).read_text())))


def check_resumable(saved: Saved, run: dict[str, Any], path: Path) -> None:
    """Refuse, naming each difference, unless the checkpoint's recipe and data are `run`'s."""
    found = differences(saved.run, run)
    if found:
        raise ResumeRefused(
            f"{path} was written by a run with another recipe or data, so it cannot be resumed: "
            + "; ".join(found)
            + ". Rerun with the checkpoint's values, or train into a new --out."
        )


def save_weights(fine_tuning: FineTuning, path: Path) -> None:
    """The adapter in peft format and, for `unfreeze`, the audio encoder and projector beside it."""
    fine_tuning.model.save_pretrained(str(path))
    if fine_tuning.config.variant == "unfreeze":
        weights = audio_embed(fine_tuning.model).state_dict()
        save_file({k: v.contiguous() for k, v in weights.items()}, path / AUDIO_WEIGHTS)


def _random_state() -> dict[str, Any]:
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # numpy's global generator picks the audio encoder's streaming chunks while it trains
        "numpy": [name, keys.tolist(), position, has_gauss, gauss],
    }


def _restore_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))


def save_checkpoint(fine_tuning: FineTuning, progress: Progress, run: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_weights(fine_tuning, tmp)
    torch.save(fine_tuning.state_dict(), tmp / "optimizer.pt")
    torch.save(_random_state(), tmp / "random.pt")
    (tmp / STATE_FILE).write_text(json.dumps(asdict(progress), allow_nan=False))
    (tmp / RUN_FILE).write_text(json.dumps(run, indent=2, allow_nan=False))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)  # whole or absent, even if the run is killed while saving


def load_checkpoint(fine_tuning: FineTuning, path: Path) -> None:
    model, device = fine_tuning.model, fine_tuning.device
    set_peft_model_state_dict(model, load_file(path / "adapter_model.safetensors", device=str(device)))
    if fine_tuning.config.variant == "unfreeze":
        audio_embed(model).load_state_dict(load_file(path / AUDIO_WEIGHTS, device=str(device)))
    fine_tuning.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=True))
    _restore_random_state(torch.load(path / "random.pt", weights_only=True))
