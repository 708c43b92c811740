"""CPU seconds per recording of the GOP engine, engine load excluded.

Loads the engine once (its load time is reported apart), then scores every sample recording
one by one and reports the process's CPU time per recording (all threads), the wall time,
and the split between forced alignment, the phone loop, the neural front end (log-mel, encoder,
classifier; when it runs) and the rest (features, calibration, assessment), and what a 16-core
server with one worker process per core would score per hour at that CPU cost. Each recording
gets new decoders (a reused one carries state); what building them costs is reported apart,
and is included in the alignment's and the loop's time. The worker's own CPU per recording
around the engine is measured by `benchmarks/pipeline_cpu.py --engine gop`.

    .venv/bin/python benchmarks/gop_speed.py [--frontend auto|neural|pocketsphinx] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines import ScoringItem  # noqa: E402
from engines.gop import GopConfig, GopEngine, aligner, phone_loop  # noqa: E402
from engines.gop.analysis import Analyser  # noqa: E402
from scoring.audio import decode  # noqa: E402
from training.data import load_dataset  # noqa: E402


def timed(analyser: Analyser, totals: dict[str, float]) -> None:
    """Sum the aligner's and the loop's CPU time (each analysis's `timings`) as the engine runs,
    with the analyser's decoders as they are."""
    analyse = analyser.analyse

    def analyse_timed(samples, reference_text):  # type: ignore[no-untyped-def]
        found = analyse(samples, reference_text)
        for key in totals:
            totals[key] += found.timings.get(key, 0.0)
        return found

    analyser.analyse = analyse_timed  # type: ignore[method-assign]


def decoder_build_seconds(rounds: int = 10) -> float:
    """CPU seconds to build the two decoders every recording gets (aligner and phone loop)."""
    started = time.process_time()
    for _ in range(rounds):
        aligner._decoder(aligner.BEAMS[0])
        phone_loop._decoder()
    return (time.process_time() - started) / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "speechocean762-sample")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--frontend", choices=("auto", "neural", "pocketsphinx"), default="auto")
    args = parser.parse_args()
    examples = load_dataset(args.data).examples
    items = [ScoringItem(decode(e.audio.read_bytes(), 40.0), e.utterance.text) for e in examples]
    load = time.process_time()
    engine = GopEngine(GopConfig(frontend=args.frontend))
    load = time.process_time() - load
    totals = {"align": 0.0, "loop": 0.0, "neural": 0.0}
    timed(engine.analyser, totals)
    cpu, wall = time.process_time(), time.perf_counter()
    scored = 0
    for _ in range(args.repeat):
        for item in items:
            scored += engine.score([item])[0].scored
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    count = len(items) * args.repeat
    neural = engine.analyser.front_end
    result = {
        "front_end": neural.name if neural else "pocketsphinx",
        "recordings": count,
        "scored": scored,
        "mean_audio_seconds": round(sum(i.seconds for i in items) / len(items), 2),
        "cpu_seconds_per_recording": round(cpu / count, 3),
        "wall_seconds_per_recording": round(wall / count, 3),
        "cpu_split_per_recording": {
            "forced_alignment": round(totals["align"] / count, 3),
            "phone_loop": round(totals["loop"] / count, 3),
            "neural_front_end": round(totals["neural"] / count, 3),
            "rest": round((cpu - sum(totals.values())) / count, 3),
        },
        "decoder_build_cpu_seconds_per_recording": round(decoder_build_seconds(), 4),
        "engine_load_cpu_seconds": round(load, 2),
        "cpus": os.cpu_count(),
        "recordings_per_hour_16_cores": round(16 * 3600 * count / cpu),
    }
    kind = "neural" if neural else "pocketsphinx"
    out = ROOT / "benchmarks" / "results" / f"gop_speed-{kind}-{datetime.now(UTC):%Y%m%d}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
