"""Recordings per second through the engine on a GPU, with full-size random weights.

Builds Phi-4-multimodal at its real size (5.6B parameters, random bf16 weights: the same compute
as the real model, nothing downloaded) and scores noise recordings of a fixed length through
`Phi4Engine.score`, the worker's own path: per-recording audio encoding, left-padded batched
greedy generation, parsing and MDD diffs. Random weights rarely stop early, so each recording
decodes its full token budget. Prints one JSON object: recordings/s per batch size, peak GPU
memory, and the settings.

    .venv/bin/python benchmarks/gpu_throughput.py --batch-sizes 1,64,128 --seconds 6 [--static-cache]
    .venv/bin/python benchmarks/gpu_throughput.py --model DIR --device cpu   # smoke run on a checkpoint
                                                                             # (e.g. `pronscore model tiny DIR`)

Target: at least 100 recordings/s per H200 (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformers import Phi4MultimodalConfig, Phi4MultimodalFeatureExtractor, Phi4MultimodalForCausalLM  # noqa: E402

from engines import ScoringItem  # noqa: E402
from engines.phi4mm import Phi4Config, Phi4Engine  # noqa: E402
from engines.phi4mm.loading import ModelParts  # noqa: E402
from scoring.audio import SAMPLE_RATE  # noqa: E402
from scoring.speechocean import parse_utterance  # noqa: E402
from training.tokenizer import build_tokenizer  # noqa: E402

SENTENCE = "THEN HE WENT TO THE THEME PARK"  # 7 words: a budget of 120 new tokens in joint-v1


def full_size_config(tokenizer) -> Phi4MultimodalConfig:
    """The real architecture; token ids remapped to the small offline tokenizer."""
    config = Phi4MultimodalConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|end|>")],
        pad_token_id=tokenizer.pad_token_id,
    )
    config.audio_config.audio_token_id = tokenizer.convert_tokens_to_ids("<|endoftext11|>")
    config.vision_config.image_token_id = tokenizer.convert_tokens_to_ids("<|endoftext10|>")
    return config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", default="1,64,128")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2, help="timed batches per size, after one warm-up")
    parser.add_argument("--model", help="a checkpoint directory to load instead of full-size random weights")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--format", default="joint-v1")
    parser.add_argument("--static-cache", action="store_true", help="decode with a static (compiled) cache")
    args = parser.parse_args()

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    config = Phi4Config(
        model=args.model or "random-weights",
        device=args.device,
        task_format=args.format,
        static_cache=args.static_cache,
    )
    started = time.perf_counter()
    if args.model:
        engine = Phi4Engine(config)
    else:
        labels = (ROOT / "data" / "speechocean762-sample" / "labels.jsonl").read_text().splitlines()
        tokenizer = build_tokenizer([parse_utterance(json.loads(line)) for line in labels if line.strip()])
        with torch.device(device):
            model = Phi4MultimodalForCausalLM(full_size_config(tokenizer)).to(dtype)
        engine = Phi4Engine(config, parts=ModelParts(model, tokenizer, Phi4MultimodalFeatureExtractor()))
    build_seconds = time.perf_counter() - started
    model = engine.parts.model
    rng = np.random.default_rng(0)
    results = {}
    for size in (int(s) for s in args.batch_sizes.split(",")):
        items = [
            ScoringItem((rng.standard_normal(int(SAMPLE_RATE * args.seconds)) * 0.1).astype(np.float32), SENTENCE)
            for _ in range(size)
        ]
        engine.score(items)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        for _ in range(args.rounds):
            engine.score(items)
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        results[size] = {
            "recordings_per_second": round(size * args.rounds / elapsed, 2),
            "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device.type == "cuda" else None,
        }
        print(json.dumps({"batch": size, **results[size]}), flush=True)
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "model": args.model or "full size, random weights",
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(dtype),
        "audio_seconds": args.seconds,
        "max_new_tokens": engine.task.max_new_tokens(SENTENCE),
        "task_format": args.format,
        "cache": "static" if args.static_cache else "dynamic",
        "model_build_seconds": round(build_seconds, 1),
        "results": results,
    }
    print(json.dumps(report, indent=2))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_throughput.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
