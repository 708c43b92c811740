"""The first run on a GPU: what the CPU could not show, in one short script (about 5 minutes).

1. The fast loop against `generate` at the real geometry (the real configuration cut to
   `--layers` layers, random weights, `--rows` recordings of mixed length), under
   `engines.phi4mm.comparison`'s rule, in bfloat16 and in float32 (where the two loops must
   agree to about 1e-5: bfloat16's rounding grows with depth); with the attention kernels that ran.
2. CUDA-graph replay against eager steps: the same prompts, bit-identical tokens.
3. Warm-up seconds, captured shapes and peak memory of the full-size engine at the default
   buckets and cache (`Phi4Config`'s), and one batch scored after it.
4. A forced out-of-memory: the memory the process may use capped a little above what the
   full-size engine holds, then a batch of `--oom-rows` recordings scored: whether it recovers
   (by halving) or what it raises, and the batch sizes tried.

Each check writes its figures, or why it was skipped, to
benchmarks/results/first_gpu_check-<device>-<time>.json (and $OUT when set). On a CPU only
check 1 runs; `--size scaled` runs it on the tests' small copy of the architecture in seconds.

    .venv/bin/python benchmarks/first_gpu_check.py                                  # a GPU host
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/first_gpu_check.py --device cpu --size scaled  # the script itself
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import transformers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformers import Phi4MultimodalFeatureExtractor  # noqa: E402

from benchmarks.device_results import write_device_result  # noqa: E402
from engines import ScoringItem  # noqa: E402
from engines.phi4mm import Phi4Config, Phi4Engine  # noqa: E402
from engines.phi4mm.architecture import random_model, real_config, scaled_config, with_tokens  # noqa: E402
from engines.phi4mm.comparison import (  # noqa: E402
    CappedTask,
    DecodeCall,
    LogitRecorder,
    compare_rows,
    generate_with_logits,
)
from engines.phi4mm.decoding import FastDecoder  # noqa: E402
from engines.phi4mm.loading import ModelParts  # noqa: E402
from scoring.audio import decode  # noqa: E402
from scoring.speechocean import parse_utterance  # noqa: E402
from training.tokenizer import build_tokenizer  # noqa: E402

SAMPLE = ROOT / "data" / "speechocean762-sample"


def recordings(count: int) -> list[ScoringItem]:
    """`count` sample recordings spread over the sample's lengths (drawn with replacement past 144)."""
    lines = [line for line in (SAMPLE / "labels.jsonl").read_text().splitlines() if line.strip()]
    utterances = [parse_utterance(json.loads(line)) for line in lines]
    items = [ScoringItem(decode((SAMPLE / u.audio).read_bytes(), 40), u.text) for u in utterances]
    items.sort(key=lambda item: len(item.samples))
    return [items[(index * 37) % len(items)] for index in range(count)]


def gib(device: torch.device, peak: bool = True) -> float | None:
    if device.type != "cuda":
        return None
    return round((torch.cuda.max_memory_allocated(device) if peak else torch.cuda.memory_allocated(device)) / 2**30, 2)


def release(*engines: Phi4Engine) -> None:
    for engine in engines:
        engine.close()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def parts_of(args: argparse.Namespace, layers: int | None, dtype: torch.dtype) -> tuple[ModelParts, str]:
    """Random weights of the real architecture or of its scaled copy, `layers` deep (None: the real depth)."""
    utterances = [parse_utterance(json.loads(line)) for line in (SAMPLE / "labels.jsonl").read_text().splitlines()]
    if args.size == "scaled":
        tokenizer = build_tokenizer(utterances)
        config, source = scaled_config(tokenizer), "the scaled copy (engines.phi4mm.architecture.scaled_config)"
    else:
        tokenizer = build_tokenizer(utterances, whole_prompts=False)  # prompts about as long as Phi-4's own
        config, source = real_config()
        config = with_tokens(config, tokenizer)
    if layers is not None:
        config.num_hidden_layers = layers
    model = random_model(config, dtype, args.device, args.seed)
    return ModelParts(model, tokenizer, Phi4MultimodalFeatureExtractor()), source


def attention_kernels(device: torch.device, run: Callable[[], object]) -> list[str]:
    """The CUDA kernels of `run` whose names say attention (flash, efficient, cuDNN, math)."""
    activities = [torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profile:
        run()
        torch.cuda.synchronize(device)
    words = ("attention", "fmha", "flash", "sdpa", "softmax")
    return sorted({event.key[:120] for event in profile.key_averages() if any(w in event.key.lower() for w in words)})


def fast_vs_generate(args: argparse.Namespace, dtype: torch.dtype) -> tuple[dict[str, Any], Phi4Engine, DecodeCall]:
    """Check 1 in `dtype`: the figures, the engine and its decode call (for check 2)."""
    parts, source = parts_of(args, args.layers, dtype)
    config = Phi4Config(
        model="random-weights",
        device=args.device,
        dtype=str(dtype).removeprefix("torch."),
        batch_sizes=(1, 4, 8, 16, 32),
        cache_tokens=32 * 1024,
    )
    engine = Phi4Engine(config, parts=parts)
    engine.task = CappedTask(engine.task, args.steps)
    recorder = LogitRecorder()
    with recorder.recording(engine.decoder):
        engine.generate(recordings(args.rows))
    rows = []
    for call in recorder.calls:
        tokens, logits = generate_with_logits(parts, call, engine.stop)
        for row, (expected, expected_logits) in enumerate(zip(tokens, logits, strict=True)):
            agreement = compare_rows(expected, expected_logits, call.tokens[row], call.row(row), dtype)
            rows.append({"prompt_tokens": call.lengths[row], **agreement.__dict__, "agrees": agreement.agrees})
    figures = {
        "configuration": source,
        "layers": parts.model.config.num_hidden_layers,
        "rows": len(rows),
        "steps": args.steps,
        "all_agree": all(row["agrees"] for row in rows),
        "identical_tokens": sum(row["first_difference"] is None for row in rows),
        "max_logit_difference": max(row["max_logit_difference"] for row in rows),
        "per_row": rows,
    }
    return figures, engine, recorder.calls[0]


def check_loops(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Checks 1 and 2: fast loop vs generate in each of `--dtypes`, graph replay vs eager in the first."""
    report["fast_vs_generate"] = {
        "sdpa_enabled": {
            "flash": torch.backends.cuda.flash_sdp_enabled(),
            "efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
            "cudnn": torch.backends.cuda.cudnn_sdp_enabled(),
            "math": torch.backends.cuda.math_sdp_enabled(),
        }
    }
    for index, name in enumerate(args.dtypes.split(",")):
        figures, engine, call = fast_vs_generate(args, getattr(torch, name))
        report["fast_vs_generate"][name] = figures
        if index == 0:
            check_graphs(engine, call, report)
        release(engine)


def check_graphs(engine: Phi4Engine, call: DecodeCall, report: dict[str, Any]) -> None:
    """Check 2: the attention kernels that ran, and graph replay against eager steps."""
    device = engine.device
    if device.type != "cuda":
        report["graph_vs_eager"] = {"skipped": "CUDA graphs need a CUDA device"}
        return
    report["fast_vs_generate"]["attention_kernels"] = attention_kernels(
        device, lambda: engine.decoder.decode(call.embeds, call.lengths, call.budgets, call.braces)
    )
    answers = {}
    for capture in (True, False):
        decoder = FastDecoder(engine.parts.model, engine.stop, engine.plan, capture=capture)
        decoder.warm_up()
        answers[capture] = decoder.decode(call.embeds, call.lengths, call.budgets, call.braces)
        del decoder
        gc.collect()
    report["graph_vs_eager"] = {
        "rows": len(call.lengths),
        "identical_tokens": answers[True] == answers[False],
        "rows_differing": sum(a != b for a, b in zip(answers[True], answers[False], strict=True)),
    }


def check_full_size(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Checks 3 and 4: warm-up and memory at the default buckets, then a forced out-of-memory."""
    device = torch.device(args.device)
    if device.type != "cuda" or args.size != "real":
        reason = "needs CUDA" if device.type != "cuda" else "needs --size real"
        report["warm_up"] = {"skipped": f"warm-up and peak memory at full size {reason}"}
        report["forced_out_of_memory"] = {"skipped": f"a forced out-of-memory {reason}"}
        return
    torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    parts, source = parts_of(args, None, torch.bfloat16)
    built = time.perf_counter() - started
    weights = gib(device, peak=False)
    engine = Phi4Engine(Phi4Config(model="random-weights", device=args.device), parts=parts)
    decoder = engine.decoder
    warm = {
        "configuration": source,
        "batch_sizes": list(engine.plan.batch_sizes),
        "cache_tokens": engine.plan.cache_tokens,
        "kv_cache_gib": round(decoder.cache_bytes / 2**30, 2),
        "captured_shapes": len(decoder.steps),
        "model_build_seconds": round(built, 1),
        "weights_gib": weights,
        "warmup_seconds": round(decoder.warmup_seconds, 1),
        "peak_gib_after_warmup": gib(device),
    }
    engine.task = CappedTask(engine.task, args.steps)
    items = recordings(args.rows)
    started = time.perf_counter()
    scored = engine.score(items)
    torch.cuda.synchronize(device)
    warm["first_batch"] = {"rows": len(items), "seconds": round(time.perf_counter() - started, 2)}
    warm["first_batch"]["results"] = len(scored)
    warm["peak_gib_after_a_batch"] = gib(device)
    report["warm_up"] = warm
    print(json.dumps({"warm_up": warm}), flush=True)

    total = torch.cuda.get_device_properties(device).total_memory
    held = torch.cuda.memory_allocated(device)
    fraction = min(1.0, (held + args.oom_headroom_gib * 2**30) / total)
    tried: list[int] = []
    batch = engine._batch

    def recorded(samples, prompts, budgets, objects, rows, fast):
        tried.append(len(rows))
        return batch(samples, prompts, budgets, objects, rows, fast)

    engine._batch = recorded
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    outcome: dict[str, Any] = {"headroom_gib": args.oom_headroom_gib, "memory_fraction": round(fraction, 4)}
    try:
        results = engine.score(recordings(args.oom_rows))
        outcome |= {"recovered": True, "results": len(results)}
    except Exception as error:  # the figure is what it raises, whatever it is
        outcome |= {"recovered": False, "raised": type(error).__name__, "message": str(error)[:300]}
        outcome["traceback_tail"] = traceback.format_exc().splitlines()[-6:]
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
    outcome["batch_sizes_tried"] = tried
    report["forced_out_of_memory"] = outcome
    release(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", choices=["real", "scaled"], default="real")
    parser.add_argument("--layers", type=int, default=4, help="decoder layers in check 1")
    parser.add_argument("--dtypes", default="bfloat16,float32", help="check 1's dtypes; check 2 runs in the first")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=24, help="answer tokens decoded per recording")
    parser.add_argument("--oom-rows", type=int, default=256)
    parser.add_argument("--oom-headroom-gib", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    report: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "commit": commit,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    check_loops(args, report)
    print(json.dumps({k: v for k, v in report.items() if k != "fast_vs_generate"}), flush=True)
    check_full_size(args, report)
    write_device_result(report, "first_gpu_check")


if __name__ == "__main__":
    main()
