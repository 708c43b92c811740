"""What `pronscore train` costs at full size: seconds per optimiser step, peak GPU memory, and the
projected time for 4 epochs of speechocean762's 2,500 training utterances.

Builds Phi-4-multimodal at its real size and geometry with random bf16 weights (as
`gpu_throughput.py` does, from `engines.phi4mm.architecture.real_config`: the same compute as
the real model, nothing downloaded), adds a fresh speech LoRA of the real
size (r=320), and times `training.step.FineTuning.step`, the trainer's own step, on synthetic
micro-batches shaped like speechocean762: 8 recordings of 2-9 s noise with the `joint-v1` prompt
and answer of sample utterances, 8 micro-batches an optimiser step.

The offline tokenizer turns each prompt's fixed text into one token, so prompts are padded to
the length Phi-4's tokenizer gives them, estimated at `--chars-per-token` characters a token
(the `joint-v1` prompt is about 2,700 characters, so about 640 tokens); the JSON reports the
resulting tokens per example.

With `--variant lora` the frozen audio encoder's output is computed once per recording and kept
(`training.step.AudioEmbeddings`), so the first epoch pays for encoding and later ones do not:
steps are timed on new recordings and again on the same ones, and the projection uses each.

    .venv/bin/python benchmarks/train_step.py --save            # both variants on CUDA, JSON to benchmarks/results/
    .venv/bin/pronscore model tiny var/tiny && \\
      .venv/bin/python benchmarks/train_step.py --model var/tiny --device cpu --batch-size 2 --grad-accum 2  # smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from peft import get_peft_model  # noqa: E402
from transformers import Phi4MultimodalFeatureExtractor  # noqa: E402

from engines.phi4mm.architecture import random_model, real_config, with_tokens  # noqa: E402
from engines.phi4mm.loading import ModelParts, load_parts, resolve_dtype  # noqa: E402
from engines.phi4mm.lora import speech_lora_config  # noqa: E402
from scoring.audio import SAMPLE_RATE  # noqa: E402
from scoring.formats import AUDIO_PLACEHOLDER, get_format  # noqa: E402
from scoring.speechocean import RatedUtterance, parse_utterance  # noqa: E402
from training.examples import answer_ids  # noqa: E402
from training.recipe import TrainConfig  # noqa: E402
from training.step import FineTuning, Pair  # noqa: E402
from training.tokenizer import build_tokenizer  # noqa: E402
from training.trainer import speech_lora_model  # noqa: E402

LABELS = ROOT / "data" / "speechocean762-sample" / "labels.jsonl"
FILLER = " the"  # one token of the offline tokenizer


def _utterances() -> list[RatedUtterance]:
    return [parse_utterance(json.loads(line)) for line in LABELS.read_text().splitlines() if line.strip()]


def _padded_prompt(parts: ModelParts, prompt: str, chars_per_token: float) -> str:
    """The prompt, lengthened with filler tokens to the length the real tokenizer gives it."""
    text = prompt.replace(AUDIO_PLACEHOLDER, "")
    have = len(parts.tokenizer(text, add_special_tokens=False)["input_ids"])
    missing = round(len(text) / chars_per_token) - have
    end = "<|end|><|assistant|>"
    return prompt.replace(end, FILLER * missing + end) if missing > 0 else prompt


class Synthetic:
    """Noise recordings of 2-9 s, each paired with a sample utterance's `joint-v1` prompt and answer."""

    def __init__(self, parts: ModelParts, count: int, chars_per_token: float, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        task, utterances = get_format("joint-v1"), _utterances()
        self.audio = [
            (rng.standard_normal(int(SAMPLE_RATE * rng.uniform(2, 9))) * 0.1).astype(np.float32) for _ in range(count)
        ]
        self.pairs = []
        for index in range(count):
            utterance = utterances[index % len(utterances)]
            (turn,), (target,) = task.turns(utterance.text), task.targets(utterance)
            self.pairs.append(Pair(index, _padded_prompt(parts, turn.chat(), chars_per_token), target))

    def tokens(self, parts: ModelParts) -> dict[str, float]:
        prompt = [len(parts.tokenizer(p.prompt.replace(AUDIO_PLACEHOLDER, ""))["input_ids"]) for p in self.pairs]
        answer = [len(answer_ids(parts, p.target)) for p in self.pairs]
        audio = [int(parts.features([a], sampling_rate=SAMPLE_RATE)["audio_embed_sizes"][0]) for a in self.audio]
        return {
            "mean_prompt_text_tokens": round(float(np.mean(prompt)), 1),
            "mean_audio_tokens": round(float(np.mean(audio)), 1),
            "mean_answer_tokens": round(float(np.mean(answer)), 1),
            "mean_example_tokens": round(float(np.mean(prompt) + np.mean(audio) + np.mean(answer)), 1),
        }


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_steps(fine_tuning: FineTuning, groups: list[list[list[Pair]]], device: torch.device) -> list[float]:
    seconds = []
    for group in groups:
        _synchronize(device)
        started = time.perf_counter()
        fine_tuning.step(group)
        _synchronize(device)
        seconds.append(time.perf_counter() - started)
    return seconds


def _groups(pairs: list[Pair], first: int, steps: int, batch: int, accumulation: int) -> list[list[list[Pair]]]:
    """`steps` optimiser steps of `accumulation` micro-batches of `batch`, from pairs[first:]."""
    per_step = batch * accumulation
    chosen = pairs[first : first + steps * per_step]
    micro = [chosen[i : i + batch] for i in range(0, len(chosen), batch)]
    return [micro[i : i + accumulation] for i in range(0, len(micro), accumulation)]


def measure(
    parts: ModelParts, variant: str, args: argparse.Namespace, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    per_step = args.batch_size * args.grad_accum
    data = Synthetic(parts, per_step * (1 + args.steps), args.chars_per_token)
    steps_per_epoch = math.ceil(math.ceil(args.utterances / args.batch_size) / args.grad_accum)
    config = TrainConfig(
        data=LABELS,
        model="benchmark",
        out=Path("unused"),
        variant=variant,  # type: ignore[arg-type]
        batch_size=args.batch_size,
        gradient_accumulation=args.grad_accum,
        device=str(device),
    )
    fine_tuning = FineTuning(parts, config, dtype, data.audio.__getitem__, steps_per_epoch * args.epochs)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    warm_up = _time_steps(fine_tuning, _groups(data.pairs, 0, 1, args.batch_size, args.grad_accum), device)
    timed = _groups(data.pairs, per_step, args.steps, args.batch_size, args.grad_accum)
    fresh = _time_steps(fine_tuning, timed, device)
    result: dict[str, Any] = {
        "warm_up_step_seconds": round(warm_up[0], 2),
        "seconds_per_step_new_recordings": round(float(np.mean(fresh)), 2),
    }
    per_epoch = [float(np.mean(fresh))] * args.epochs
    if variant == "lora":  # later epochs reuse the frozen encoder's output
        again = _time_steps(fine_tuning, timed, device)
        result["seconds_per_step_kept_audio_embeddings"] = round(float(np.mean(again)), 2)
        per_epoch = [float(np.mean(fresh))] + [float(np.mean(again))] * (args.epochs - 1)
    total = sum(seconds * steps_per_epoch for seconds in per_epoch)
    result |= {
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device.type == "cuda" else None,
        "trainable_parameters": sum(p.numel() for p in fine_tuning.trainable.values()),
        "steps_per_epoch": steps_per_epoch,
        "projected_minutes": round(total / 60, 1),
        **data.tokens(parts),
    }
    del fine_tuning
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def build(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> ModelParts:
    """The base (full size with random weights, or a checkpoint directory) with a trainable speech LoRA."""
    if args.model:
        parts = load_parts(args.model, None, device, dtype)
        return ModelParts(speech_lora_model(parts, args.model, None), parts.tokenizer, parts.features)
    tokenizer = build_tokenizer(_utterances())
    model = random_model(with_tokens(real_config()[0], tokenizer), dtype, device)
    return ModelParts(get_peft_model(model, speech_lora_config()), tokenizer, Phi4MultimodalFeatureExtractor())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="lora,unfreeze")
    parser.add_argument("--steps", type=int, default=2, help="timed optimiser steps (after one warm-up step)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=8)
    parser.add_argument("--utterances", type=int, default=2500, help="training utterances to project for")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--chars-per-token", type=float, default=4.2, help="estimate for Phi-4's tokenizer")
    parser.add_argument("--model", help="a checkpoint directory instead of full-size random weights (smoke runs)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--save", action="store_true", help="also write the JSON under benchmarks/results/")
    args = parser.parse_args()

    device = torch.device(args.device)
    dtype = resolve_dtype("auto", device)
    torch.manual_seed(0)
    started = time.perf_counter()
    parts = build(args, device, dtype)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "model": args.model or "full size, random weights",
        "base_parameters": sum(p.numel() for n, p in parts.model.named_parameters() if "lora_" not in n),
        "compute_dtype": str(dtype).removeprefix("torch."),
        "task_format": "joint-v1",
        "batch_size": args.batch_size,
        "gradient_accumulation": args.grad_accum,
        "model_build_seconds": round(time.perf_counter() - started, 1),
        "projection": f"{args.epochs} epochs of {args.utterances} utterances",
        "variants": {},
    }
    variants = args.variants.split(",")
    for variant in sorted(variants, key=lambda v: v == "unfreeze"):  # unfreeze last: it upcasts the encoder
        report["variants"][variant] = measure(parts, variant, args, device, dtype)
        print(json.dumps({"variant": variant, **report["variants"][variant]}), flush=True)
    report["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(report, indent=2)
    print(text)
    if args.save:
        slug = report["device"].lower().replace(" ", "-")
        path = ROOT / "benchmarks" / "results" / f"train_step-{slug}-{report['measured_at'][:10]}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "train_step.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
