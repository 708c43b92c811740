"""The training cost benchmark in its smoke mode: the trainer's own step on the tiny checkpoint."""

import json
import math
import runpy
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_the_benchmark_times_the_trainers_step_and_projects_four_epochs(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["train_step.py", "--model", str(tiny_model), "--device", "cpu", "--variants", "lora",
            "--batch-size", "2", "--grad-accum", "2", "--steps", "1"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("OUT", str(tmp_path))
    runpy.run_path(str(ROOT / "benchmarks" / "train_step.py"), run_name="__main__")
    report = json.loads((tmp_path / "train_step.json").read_text())
    lora = report["variants"]["lora"]
    assert lora["steps_per_epoch"] == math.ceil(math.ceil(2500 / 2) / 2)
    assert lora["seconds_per_step_new_recordings"] > 0 and lora["seconds_per_step_kept_audio_embeddings"] > 0
    assert lora["projected_minutes"] > 0 and lora["peak_gpu_gib"] is None
    assert lora["mean_prompt_text_tokens"] > 500, "prompts padded to the real tokenizer's length"
