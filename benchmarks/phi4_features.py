"""CPU cost of Phi-4's log-mel features: each recording extracted alone then zero-padded (what
the engine does, on the worker's fetch threads) against the extractor's one batched call (what
it did before, which raises on some batches of near-equal lengths).

Two batches of 256 recordings of noise: lengths sorted within 3.8-4.9 s (a worker's chunk of
length-sorted recordings) and log-normal lengths (mean 4 s, sd 1.5 s, unsorted). One thread,
best of `--repeats`. Writes benchmarks/results/phi4_features-DATE.json.

    nice -n 10 .venv/bin/python benchmarks/phi4_features.py [--recordings 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from transformers import Phi4MultimodalFeatureExtractor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.phi4mm.inputs import audio_features  # noqa: E402
from scoring.audio import MIN_SAMPLES, SAMPLE_RATE  # noqa: E402


def batches(count: int, rng: np.random.Generator) -> dict[str, list[int]]:
    sorted_lengths = np.sort(rng.integers(int(3.8 * SAMPLE_RATE), int(4.9 * SAMPLE_RATE), count))
    sigma = np.sqrt(np.log(1 + (1.5 / 4) ** 2))
    seconds = rng.lognormal(np.log(4) - sigma**2 / 2, sigma, count).clip(0.1, 40)
    return {
        "sorted 3.8-4.9 s": sorted_lengths.tolist(),
        "log-normal, unsorted": np.maximum((seconds * SAMPLE_RATE).astype(int), MIN_SAMPLES).tolist(),
    }


def best(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    extractor = Phi4MultimodalFeatureExtractor()
    parts = SimpleNamespace(features=extractor)
    results = {}
    for name, lengths in batches(args.recordings, rng).items():
        samples = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in lengths]
        alone = best(lambda samples=samples: audio_features(parts, samples), args.repeats)
        try:
            batched = best(
                lambda samples=samples: extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt"),
                args.repeats,
            )
            batched_note = f"{batched:.2f} s"
        except RuntimeError as error:
            batched, batched_note = None, f"raised {error}"
        audio = sum(lengths) / SAMPLE_RATE
        results[name] = {
            "recordings": len(lengths),
            "audio_seconds": round(audio, 1),
            "per_recording_then_pad_s": round(alone, 3),
            "per_recording_ms": round(alone / len(lengths) * 1000, 2),
            "batched_call_s": None if batched is None else round(batched, 3),
        }
        print(
            f"{name}: {len(lengths)} recordings, {audio:.0f} s of audio: per recording then pad {alone:.2f} s "
            f"({alone / len(lengths) * 1000:.2f} ms each); one batched call {batched_note}"
        )
    out = ROOT / "benchmarks" / "results" / f"phi4_features-{date.today():%Y%m%d}.json"
    out.write_text(json.dumps({"threads": 1, "repeats": args.repeats, "batches": results}, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
