"""Recordings per second through the engine on a GPU, at full size with random weights.

Builds Phi-4-multimodal at its real size and geometry (`engines.phi4mm.architecture.real_config`:
the checkpoint's `config.json` when the hub cache holds it, else the real values written there;
random bf16 weights: the same compute and key/value cache as the real model, nothing
downloaded) with an offline tokenizer whose prompts and
answers take about as many tokens as Phi-4's own, and scores real recordings of the bundled
speechocean762 sample (2-9 s, drawn with replacement, each with its own sentence and so its
own answer budget) through `Phi4Engine.score`: batched padding-safe audio encoding, the fast
decode loop (or `--loop generate`, the reference), parsing and MDD diffs. Random weights never
write an end token, so every answer runs to its budget; the report also projects the rate at
the token length of each recording's real answer (from the sample's labels).

Per batch size it reports recordings/s, the time split (features, audio encoder, prompts,
prefill, decode), decode steps and ms per step, tokens per answer, warm-up time, peak GPU
memory, and that no decode shape ran outside the warm-up; it writes the JSON (device,
versions, command) to benchmarks/results/ and to $OUT when set.

    .venv/bin/python benchmarks/gpu_throughput.py --batch-sizes 1,64,128,256   # an 80 GB H100 or A100
    .venv/bin/python benchmarks/gpu_throughput.py                          # H200: 1,64,128,256,512
    .venv/bin/pronscore model tiny var/tiny && .venv/bin/python benchmarks/gpu_throughput.py \\
        --model var/tiny --device cpu --batch-sizes 1,8 --rounds 1        # smoke run on a CPU

Target: at least 100 recordings/s per H200 (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import transformers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformers import Phi4MultimodalFeatureExtractor  # noqa: E402

from benchmarks.device_results import write_device_result  # noqa: E402
from engines import ScoringItem  # noqa: E402
from engines.phi4mm import Phi4Config, Phi4Engine  # noqa: E402
from engines.phi4mm.architecture import random_model, real_config, with_tokens  # noqa: E402
from engines.phi4mm.decoding import Timings  # noqa: E402
from engines.phi4mm.loading import ModelParts  # noqa: E402
from scoring.audio import decode  # noqa: E402
from scoring.speechocean import RatedUtterance, parse_utterance  # noqa: E402
from training.tokenizer import build_tokenizer  # noqa: E402

SAMPLE = ROOT / "data" / "speechocean762-sample"


def sample_recordings(low: float, high: float) -> list[tuple[np.ndarray, RatedUtterance]]:
    """The sample's recordings of `low`-`high` seconds, decoded, with their labels."""
    recordings = []
    for line in (SAMPLE / "labels.jsonl").read_text().splitlines():
        if line.strip():
            utterance = parse_utterance(json.loads(line))
            samples = decode((SAMPLE / utterance.audio).read_bytes(), 40)
            if low <= len(samples) / 16000 <= high:
                recordings.append((samples, utterance))
    return recordings


def build_engine(args: argparse.Namespace, sizes: list[int]) -> tuple[Phi4Engine, float, str]:
    """The engine, the seconds it took to build, and where its architecture came from."""
    config = Phi4Config(
        model=args.model or "random-weights",
        device=args.device,
        task_format=args.format,
        decode_loop=args.loop,
        batch_sizes=tuple(sorted(sizes)),
        cache_tokens=args.cache_tokens or max(sizes) * 1024,
    )
    started = time.perf_counter()
    if args.model:
        return Phi4Engine(config), time.perf_counter() - started, args.model
    labels = (SAMPLE / "labels.jsonl").read_text().splitlines()
    utterances = [parse_utterance(json.loads(line)) for line in labels if line.strip()]
    tokenizer = build_tokenizer(utterances, whole_prompts=False)
    architecture, source = real_config()
    model = random_model(with_tokens(architecture, tokenizer), torch.bfloat16, args.device, args.seed)
    engine = Phi4Engine(config, parts=ModelParts(model, tokenizer, Phi4MultimodalFeatureExtractor()))
    return engine, time.perf_counter() - started, source


def real_answer_tokens(engine: Phi4Engine, utterance: RatedUtterance) -> list[int]:
    """Tokens of the recording's true answer in each turn, with its end token."""
    tokenizer = engine.parts.tokenizer
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in engine.task.targets(utterance)]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(engine: Phi4Engine, batch: list[tuple[np.ndarray, RatedUtterance]], rounds: int) -> dict[str, object]:
    """Score `batch` `rounds` times and report the figures of one batch."""
    device = engine.device
    items = [ScoringItem(samples, utterance.text) for samples, utterance in batch]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    engine.timings = Timings()
    seconds = []
    for _ in range(rounds):
        synchronize(device)
        started = time.perf_counter()
        results = engine.score(items)
        synchronize(device)
        seconds.append(time.perf_counter() - started)
    timings = engine.timings
    total = sum(seconds)
    per_batch = {name: round(value / rounds, 4) for name, value in asdict(timings).items() if isinstance(value, float)}
    steps = timings.steps / rounds
    budgets = [engine.task.max_new_tokens(utterance.text) for _, utterance in batch]
    real = [real_answer_tokens(engine, utterance) for _, utterance in batch]
    figures: dict[str, object] = {
        "batch": len(batch),
        "recordings_per_second": round(len(batch) * rounds / total, 2),
        "seconds_per_round": [round(s, 3) for s in seconds],
        "seconds_per_batch": per_batch,
        "decode_steps_per_batch": steps,
        "ms_per_decode_step": round(1000 * timings.decode / timings.steps, 2) if timings.steps else None,
        "tokens_per_answer": round(timings.answer_tokens / max(timings.answers, 1), 1),
        "budget_tokens_per_answer": round(statistics.mean(sum(b) for b in budgets), 1),
        "real_tokens_per_answer": round(statistics.mean(sum(r) for r in real), 1),
        "audio_seconds_mean": round(statistics.mean(len(s) / 16000 for s, _ in batch), 2),
        "scored": sum(1 for r in results if r.scored),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
    }
    if timings.steps and engine.decoder is not None:
        # Random weights decode every answer to its budget; real answers end sooner, and a batch
        # ends with its longest. Projected, not measured: the other stages as measured, plus the
        # steps of each batch's longest real answer at the measured time per step.
        turns = len(real[0])
        real_steps = sum(max(r[t] for r in real) for t in range(turns)) - turns
        other = total / rounds - timings.decode / rounds
        projected = other + real_steps * timings.decode / timings.steps
        figures["projected_recordings_per_second_at_real_answer_lengths"] = round(len(batch) / projected, 2)
    return figures


def environment(device: torch.device) -> dict[str, object]:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "commit": commit,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="1,64,128,256,512")
    parser.add_argument("--rounds", type=int, default=3, help="timed batches per size (no untimed warm-up batch)")
    parser.add_argument("--model", help="a checkpoint directory instead of full-size random weights")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--format", default="joint-v1")
    parser.add_argument("--loop", choices=["fast", "generate"], default="fast")
    parser.add_argument("--cache-tokens", type=int, help="key-value cache slots (default: largest batch × 1024)")
    parser.add_argument("--seconds", default="2,9", help="the range of recording lengths drawn from the sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="the JSON file (default: benchmarks/results/gpu_throughput-*.json)")
    args = parser.parse_args()

    sizes = [int(s) for s in args.batch_sizes.split(",")]
    low, high = (float(s) for s in args.seconds.split(","))
    pool = sample_recordings(low, high)
    engine, build_seconds, source = build_engine(args, sizes)
    device = engine.device
    decoder = engine.decoder
    architecture = engine.parts.model.config
    report: dict[str, object] = {
        **environment(device),
        "model": args.model or "Phi-4-multimodal at full size, random weights",
        "configuration": source,
        "heads": [architecture.num_attention_heads, architecture.num_key_value_heads],
        "rope": architecture.rope_parameters.get("rope_type"),
        "tied_head": architecture.tie_word_embeddings,
        "parameters": sum(p.numel() for p in engine.parts.model.parameters()),
        "dtype": str(engine.dtype).removeprefix("torch."),
        "task_format": args.format,
        "decode_loop": args.loop,
        "batch_sizes": sizes,
        "cache_tokens": engine.plan.cache_tokens,
        "model_build_seconds": round(build_seconds, 1),
        "warmup_seconds": round(decoder.warmup_seconds, 1) if decoder else None,
        "warmed_shapes": len(decoder.steps) if decoder else None,
        "kv_cache_gib": round(decoder.cache_bytes / 2**30, 2) if decoder else None,
        "peak_gpu_gib_after_warmup": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if device.type == "cuda"
        else None,
        "results": [],
    }
    print(json.dumps({k: v for k, v in report.items() if k != "results"}), flush=True)
    rng = np.random.default_rng(args.seed)
    for size in sizes:
        batch = [pool[i] for i in rng.integers(0, len(pool), size)]
        figures = measure(engine, batch, args.rounds)
        report["results"].append(figures)  # type: ignore[union-attr]
        print(json.dumps(figures), flush=True)
    if decoder is not None:
        report["decode_shapes_run"] = len(decoder.shapes_run)
        report["decode_shapes_outside_warmup"] = len(set(decoder.shapes_run) - set(decoder.steps))
    write_device_result(report, "gpu_throughput", args.out)


if __name__ == "__main__":
    main()
