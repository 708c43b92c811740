"""Both error rates of the GOP engine's off-task check: other sentences caught, own reads rejected.

Every sample recording is scored by the engine against its own sentence and against `--others`
sentences of other sample recordings (drawn at random, seeded). Prints and writes (to
benchmarks/results/gop_offtask-<front end>-<date>.json) the share of mismatched sentences
caught (failed `wrong_text`, and failed for any reason) and the share of own reads rejected,
each with its 95% Wilson interval. With `--corpus DIR` (a speechocean762 release) it also
scores the own reads of the ten training-split speakers kept for evaluation
(`training.frontend_data.EVALUATION_SPEAKERS`: no model pronscore ships was fitted on them) and
reports how many are rejected. The check was fitted on other speakers of the training split
(`training/gop_offtask.py`), never on the sample or those ten.

    .venv/bin/python benchmarks/gop_offtask.py [--others 1] [--corpus /path/to/speechocean762] \
        [--frontend auto|neural|pocketsphinx]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from scipy.stats import binomtest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines import ScoringItem  # noqa: E402
from engines.gop import GopConfig, GopEngine  # noqa: E402
from scoring.audio import decode  # noqa: E402
from training.data import load_dataset  # noqa: E402
from training.frontend_data import EVALUATION_SPEAKERS  # noqa: E402
from training.gop_offtask import Read, corpus_reads, pairs, rated_reads  # noqa: E402


def _rate(hits: int, total: int) -> dict[str, float | int | list[float]]:
    interval = binomtest(hits, total).proportion_ci(0.95, method="wilson") if total else None
    return {
        "count": hits,
        "of": total,
        "share": round(hits / total, 4) if total else 0.0,
        "interval_95": [round(interval.low, 4), round(interval.high, 4)] if interval else [],
    }


def _reasons(engine: GopEngine, reads: list[Read], others: int) -> tuple[Counter, Counter]:
    """Outcomes (scored or the failure reason) of own reads and of mismatched sentences."""
    own: Counter = Counter()
    other: Counter = Counter()
    audio = {}
    for pair in pairs(reads, others):
        if pair.read.audio not in audio:
            audio = {pair.read.audio: decode(pair.read.audio.read_bytes(), 40.0)}
        [result] = engine.score([ScoringItem(audio[pair.read.audio], pair.text)])
        outcome = "scored" if result.scored else str(result.failure.reason)
        (own if pair.own else other)[outcome] += 1
    return own, other


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "speechocean762-sample")
    parser.add_argument("--others", type=int, default=2, help="other sentences per sample recording")
    parser.add_argument("--corpus", type=Path, help="speechocean762 release: also score the evaluation speakers")
    parser.add_argument("--corpus-only", action="store_true", help="skip the sample (run it separately)")
    parser.add_argument("--frontend", choices=("auto", "neural", "pocketsphinx"), default="auto")
    parser.add_argument("--out", type=Path, help="results file (default: results/gop_offtask-FRONTEND-DATE.json)")
    args = parser.parse_args()
    engine = GopEngine(GopConfig(frontend=args.frontend))
    kind = "neural" if engine.analyser.front_end else "pocketsphinx"
    sample = rated_reads(load_dataset(args.data).examples)
    result: dict = {"engine": engine.version.name}
    if not args.corpus_only:
        own, other = _reasons(engine, sample, args.others)
        result |= {
            "data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
            "recordings": len(sample),
            "others_per_recording": args.others,
            "mismatched_caught_wrong_text": _rate(other["wrong_text"], sum(other.values())),
            "mismatched_caught_any_reason": _rate(sum(other.values()) - other["scored"], sum(other.values())),
            "own_reads_rejected": _rate(sum(own.values()) - own["scored"], sum(own.values())),
            "outcomes": {"own": dict(own), "mismatched": dict(other)},
        }
    if args.corpus:
        held = [r for r in corpus_reads(args.corpus, "train") if r.speaker in EVALUATION_SPEAKERS]
        corpus_own, _ = _reasons(engine, held, 0)
        result["evaluation_speakers_own_reads_rejected"] = {
            **_rate(sum(corpus_own.values()) - corpus_own["scored"], sum(corpus_own.values())),
            "outcomes": dict(corpus_own),
        }
    out = args.out or ROOT / "benchmarks" / "results" / f"gop_offtask-{kind}-{datetime.now(UTC):%Y%m%d}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
