"""Quality of the GOP engine on speakers it was not calibrated on: nested speaker-grouped
cross-validation.

The sample's 24 speakers are dealt into 6 outer folds; for each fold the calibration's
regularisation is chosen by an inner speaker-grouped cross-validation on the other 20 speakers
alone (`training/gop_selection.py`), fitted on them with every candidate feature, and scores
the fold's. Prints and writes (to benchmarks/results/gop_quality-<front end>-<date>.json) each
figure with its 95% interval: sentence-score PCC (of the integer scores the product stores, and
of the unrounded estimates, with the spread of the six folds' own PCCs), word-accuracy and
phone-score PCC (Fisher z), the phone AUC for "annotated score <= 1", WER, PER and MDD
precision, recall and F1 (bootstrap over utterances). 144 utterances of 24 speakers are a small
sample: the intervals are wide, and even nested figures on them are optimistic for new
speakers.

    .venv/bin/python benchmarks/gop_quality.py [--frontend auto|neural|pocketsphinx] [--folds 6]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scipy.stats import rankdata  # noqa: E402

from engines.gop.analysis import Analyser  # noqa: E402
from engines.gop.engine import GopConfig, front_end  # noqa: E402
from scoring.metrics import pearson  # noqa: E402
from scoring.scores import SCORE_ASPECTS  # noqa: E402
from training.data import load_dataset  # noqa: E402
from training.evaluate import evaluate, references_from  # noqa: E402
from training.gop import analyse, cross_validate  # noqa: E402
from training.gop_selection import select  # noqa: E402

NESTED = "nested: every candidate feature, alpha chosen inside each outer fold"


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


def _auc(pairs) -> float | None:
    """P(a phone annotated <= 1 gets a lower predicted score than one annotated above 1)."""
    predicted = np.array([p for p, _ in pairs])
    bad = np.array([h <= 1 for _, h in pairs])
    if bad.all() or not bad.any():
        return None
    ranks = rankdata(-predicted)
    return round(float((ranks[bad].sum() - bad.sum() * (bad.sum() + 1) / 2) / (bad.sum() * (~bad).sum())), 3)


def _fold_spread(held, references, aspect: str) -> dict[str, float]:
    """Mean, lowest and highest of the outer folds' own PCCs of the unrounded estimates."""
    found = []
    for fold in sorted(set(held.fold_of.values())):
        pairs = [(held.predictions[r.key]["score_estimates"][aspect], r.scores[aspect]) for r in references
                 if held.fold_of.get(r.key) == fold and "score_estimates" in held.predictions[r.key]]  # fmt: skip
        r = pearson([p for p, _ in pairs], [h for _, h in pairs]).pcc
        if r is not None:
            found.append(r)
    return {"mean": round(float(np.mean(found)), 3), "min": round(min(found), 3), "max": round(max(found), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "speechocean762-sample")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--frontend", choices=("auto", "neural", "pocketsphinx"), default="auto")
    parser.add_argument("--fixed", action="store_true", help="a few fixed features per level")
    parser.add_argument("--cache", type=Path, help="keep the analyses in this file and reuse them (same front end)")
    args = parser.parse_args()
    examples = load_dataset(args.data).examples
    neural = front_end(GopConfig(frontend=args.frontend))
    if args.cache and args.cache.is_file():
        items = pickle.loads(args.cache.read_bytes())
    else:
        items = analyse(examples, Analyser(front_end=neural), 40.0)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(items))
    held = cross_validate(items, args.folds, None if args.fixed else select)
    references = references_from(examples)
    metrics = evaluate(references, held.predictions).metrics
    estimates = {aspect: [] for aspect in SCORE_ASPECTS}
    for ref in references:
        found = held.predictions[ref.key].get("score_estimates")
        for aspect in SCORE_ASPECTS:
            if found:
                estimates[aspect].append((found[aspect], ref.scores[aspect]))
    kind = "neural" if neural else "pocketsphinx"
    result = {
        "front_end": neural.name if neural else "pocketsphinx",
        "selection": "fixed features" if args.fixed else NESTED,
        "data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
        "utterances": len(items),
        "speakers": len({i.utterance.speaker for i in items}),
        "folds": args.folds,
        "not_aligned_or_rejected": sum(p.get("status") != "scored" for p in held.predictions.values()),
        "pcc_integer_scores": {a: _pcc_of(metrics["pcc"][a]) for a in SCORE_ASPECTS},
        "pcc_unrounded_estimates": {a: _pcc(estimates[a]) for a in SCORE_ASPECTS},
        "outer_fold_pcc_unrounded": {a: _fold_spread(held, references, a) for a in SCORE_ASPECTS},
        "pcc_word_accuracy": _pcc(held.word_pairs),
        "pcc_phone_score": _pcc(held.phone_pairs),
        "auc_phone_score_le_1": _auc(held.phone_pairs),
        "wer": round(metrics["wer"], 3),
        "per": round(metrics["per"], 3),
        "mdd": {k: round(v, 3) if isinstance(v, float) else v for k, v in metrics["mdd"].items()},
        "intervals_95_bootstrap": _bootstrap(references, held.predictions),
    }
    out = ROOT / "benchmarks" / "results" / f"gop_quality-{kind}-{datetime.now(UTC):%Y%m%d}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


def _pcc_of(found: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in found.items()}


if __name__ == "__main__":
    main()
