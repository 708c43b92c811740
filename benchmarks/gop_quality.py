"""Quality of the GOP engine on speakers it was not calibrated on: speaker-grouped cross-validation.

The sample's 24 speakers are dealt into 6 folds; for each fold the calibration is fitted on the
other 20 speakers' utterances and scores the fold's. Prints and writes (to
benchmarks/results/gop_quality-<date>.json) each figure with its 95% interval: sentence-score PCC
(of the integer scores the product stores, and of the unrounded estimates), word-accuracy and
phone-score PCC (Fisher z), WER, PER and MDD precision, recall and F1 (bootstrap over utterances).

    .venv/bin/python benchmarks/gop_quality.py [--data data/speechocean762-sample] [--folds 6]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.gop.analysis import Analyser  # noqa: E402
from scoring.metrics import pearson  # noqa: E402
from scoring.scores import SCORE_ASPECTS  # noqa: E402
from training.data import load_dataset  # noqa: E402
from training.evaluate import evaluate, references_from  # noqa: E402
from training.gop import analyse, cross_validate  # noqa: E402


def _bootstrap(references, predictions, rounds: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """95% intervals of WER, PER and MDD figures, resampling utterances."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"wer": [], "per": [], "precision": [], "recall": [], "f1": []}
    for _ in range(rounds):
        sample = [references[i] for i in rng.integers(0, len(references), len(references))]
        keyed = [type(r)(**{**r.__dict__, "key": f"{n}:{r.key}"}) for n, r in enumerate(sample)]
        metrics = evaluate(keyed, {f"{n}:{r.key}": predictions[r.key] for n, r in enumerate(sample)}).metrics
        for name in ("wer", "per"):
            draws[name].append(metrics[name])
        for name in ("precision", "recall", "f1"):
            draws[name].append(metrics["mdd"][name])
    return {name: [round(float(np.percentile(v, 2.5)), 3), round(float(np.percentile(v, 97.5)), 3)]
            for name, v in draws.items()}  # fmt: skip


def _pcc(pairs) -> dict[str, float | int | None]:
    c = pearson([p for p, _ in pairs], [h for _, h in pairs])
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.__dict__.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "speechocean762-sample")
    parser.add_argument("--folds", type=int, default=6)
    args = parser.parse_args()
    examples = load_dataset(args.data).examples
    items = analyse(examples, Analyser(), 40.0)
    held = cross_validate(items, args.folds)
    references = references_from(examples)
    metrics = evaluate(references, held.predictions).metrics
    estimates = {aspect: [] for aspect in SCORE_ASPECTS}
    for ref in references:
        found = held.predictions[ref.key].get("score_estimates")
        for aspect in SCORE_ASPECTS:
            if found:
                estimates[aspect].append((found[aspect], ref.scores[aspect]))
    result = {
        "data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
        "utterances": len(items),
        "speakers": len({i.utterance.speaker for i in items}),
        "folds": args.folds,
        "not_aligned_or_rejected": sum(p.get("status") != "scored" for p in held.predictions.values()),
        "pcc_integer_scores": {a: _pcc_of(metrics["pcc"][a]) for a in SCORE_ASPECTS},
        "pcc_unrounded_estimates": {a: _pcc(estimates[a]) for a in SCORE_ASPECTS},
        "pcc_word_accuracy": _pcc(held.word_pairs),
        "pcc_phone_score": _pcc(held.phone_pairs),
        "wer": round(metrics["wer"], 3),
        "per": round(metrics["per"], 3),
        "mdd": {k: round(v, 3) if isinstance(v, float) else v for k, v in metrics["mdd"].items()},
        "intervals_95_bootstrap": _bootstrap(references, held.predictions),
    }
    out = ROOT / "benchmarks" / "results" / f"gop_quality-{datetime.now(UTC):%Y%m%d}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


def _pcc_of(found: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in found.items()}


if __name__ == "__main__":
    main()
