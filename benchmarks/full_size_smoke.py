"""Phi-4-multimodal at its real size on a CPU: the fast loop's tokens against `generate`'s.

Builds the real architecture (`engines.phi4mm.architecture.real_config`: the cached
`config.json`, else the real values) with random bfloat16 weights and a trained encoder's audio
statistics (a peak of about 10.4 GiB of RAM, nothing downloaded), scores a few recordings of the bundled
sample through `Phi4Engine.score` with the fast loop, then gives `generate` the very prompts
the fast loop decoded and compares the two, step by step, under `engines.phi4mm.comparison`'s
rule (bfloat16 logits within tolerance, tokens equal except after a near tie).

What a CPU affords at full size: the offline test tokenizer, whose prompt text is a single
token, so a prompt is its audio tokens and a few more; and answers cut to `--steps` tokens
(random weights never write an end token). Both are said in the JSON, written to
benchmarks/results/full_size_smoke-<date>.json.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/full_size_smoke.py   # once: tens of minutes
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import transformers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformers import Phi4MultimodalFeatureExtractor  # noqa: E402

from engines import ScoringItem  # noqa: E402
from engines.phi4mm import Phi4Config, Phi4Engine  # noqa: E402
from engines.phi4mm.architecture import random_model, real_config, with_tokens  # noqa: E402
from engines.phi4mm.comparison import CappedTask, LogitRecorder, compare_rows, generate_with_logits  # noqa: E402
from engines.phi4mm.loading import ModelParts  # noqa: E402
from scoring.audio import decode  # noqa: E402
from scoring.speechocean import parse_utterance  # noqa: E402
from training.tokenizer import build_tokenizer  # noqa: E402

SAMPLE = ROOT / "data" / "speechocean762-sample"
RESULTS = ROOT / "benchmarks" / "results"
NEEDED_GIB = 13  # the weights (about 11 GB) and the activations of a short prompt


def available_gib() -> float:
    """MemAvailable of /proc/meminfo, in GiB (Linux; infinity elsewhere)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return float("inf")
    kib = next(int(line.split()[1]) for line in lines if line.startswith("MemAvailable:"))
    return kib / 2**20


def shortest_recordings(count: int) -> list[ScoringItem]:
    """The sample's `count` shortest recordings (the prefill's cost grows with their length)."""
    utterances = [parse_utterance(json.loads(line)) for line in (SAMPLE / "labels.jsonl").read_text().splitlines()]
    items = [ScoringItem(decode((SAMPLE / u.audio).read_bytes(), 40), u.text) for u in utterances]
    return sorted(items, key=lambda item: len(item.samples))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8, help="answer tokens decoded per recording")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="the JSON file (default: benchmarks/results/full_size_smoke-*.json)")
    args = parser.parse_args()
    if args.device == "cpu" and available_gib() < NEEDED_GIB:
        sys.exit(f"full_size_smoke: {available_gib():.1f} GiB of memory available, {NEEDED_GIB} needed")
    torch.manual_seed(args.seed)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    started = time.perf_counter()
    utterances = [parse_utterance(json.loads(line)) for line in (SAMPLE / "labels.jsonl").read_text().splitlines()]
    tokenizer = build_tokenizer(utterances)
    config, source = real_config()
    model = random_model(with_tokens(config, tokenizer), torch.bfloat16, args.device, args.seed)
    parts = ModelParts(model, tokenizer, Phi4MultimodalFeatureExtractor())
    sizes = (1, 2, 4)
    engine_config = Phi4Config(
        model="random-weights", device=args.device, dtype="bfloat16", batch_sizes=sizes, cache_tokens=4 * 512
    )
    engine = Phi4Engine(engine_config, parts=parts)
    engine.task = CappedTask(engine.task, args.steps)
    built = time.perf_counter() - started
    print(f"built in {built:.0f} s from {source}", flush=True)

    items = shortest_recordings(args.recordings)
    recorder = LogitRecorder()
    started = time.perf_counter()
    with recorder.recording(engine.decoder):
        results = engine.score(items)
    fast_seconds = time.perf_counter() - started
    print(f"fast loop: {fast_seconds:.0f} s", flush=True)
    started = time.perf_counter()
    rows = []
    for call in recorder.calls:
        tokens, logits = generate_with_logits(parts, call, engine.stop)
        for row, (expected, expected_logits) in enumerate(zip(tokens, logits, strict=True)):
            agreement = compare_rows(expected, expected_logits, call.tokens[row], call.row(row), torch.bfloat16)
            rows.append(
                {
                    "prompt_tokens": call.lengths[row],
                    "fast_tokens": call.tokens[row],
                    "generate_tokens": expected,
                    "identical_tokens": agreement.identical_tokens,
                    "agrees": agreement.agrees,
                    "first_difference": agreement.first_difference,
                    "near_tie": agreement.near_tie,
                    "max_logit_difference": agreement.max_logit_difference,
                    "tolerance": agreement.max_tolerance,
                    "within_tolerance": agreement.within_tolerance,
                }
            )
    generate_seconds = time.perf_counter() - started
    report = {
        "what": "Phi-4-multimodal at full size, random bfloat16 weights: fast loop vs generate",
        "configuration": source,
        "heads": [config.num_attention_heads, config.num_key_value_heads],
        "rope": config.rope_parameters.get("rope_type"),
        "partial_rotary_factor": config.rope_parameters.get("partial_rotary_factor"),
        "tied_head": config.tie_word_embeddings,
        "sliding_window": config.sliding_window,
        "audio_bias_max_distance": config.audio_config.bias_max_distance,
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokenizer": f"offline test tokenizer, {len(tokenizer)} tokens (a prompt's text is one token)",
        "recordings": len(items),
        "audio_seconds": [round(item.seconds, 2) for item in items],
        "steps": args.steps,
        "scored_without_exception": len(results) == len(items),
        "all_identical_tokens": all(row["identical_tokens"] for row in rows),
        "all_agree": all(row["agrees"] for row in rows),
        "rows": rows,
        "seconds": {"build": round(built, 1), "fast": round(fast_seconds, 1), "generate": round(generate_seconds, 1)},
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "device": args.device,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "commit": commit,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(report, indent=2)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
    out = args.out or RESULTS / f"full_size_smoke-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    print(f"written to {out}", file=sys.stderr)
    sys.exit(0 if report["all_agree"] and report["scored_without_exception"] else 1)


if __name__ == "__main__":
    main()
