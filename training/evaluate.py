"""Evaluation of a model's assessments against human scores, laid out beside the paper's table.

Predictions are assessments in the shape `pronscore score` prints (one JSON object a line,
keyed by `recording_id` or `utt`), from our engine or any other system. An answer that could
not be parsed has no scores, so it is left out of the correlations; its transcripts count as
empty, so every reference word and phone counts as deleted in WER, PER and MDD.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoring.metrics import MddCounts, confusions, error_rate, pearson
from scoring.phones import split_phones
from scoring.scores import SCORE_ASPECTS
from scoring.text import normalize_text
from training.data import Example

# Ahn & Nam 2025, Table 3: the LoRA variant at epoch 3 on the speechocean762 test split.
PAPER_LORA_EPOCH3 = {
    "pcc": {"accuracy": 0.656, "fluency": 0.727, "prosodic": 0.711, "total": 0.675},
    "wer": 0.140,
    "per": 0.114,
    "mdd": {"precision": 0.728, "recall": 0.721, "f1": 0.724},
}


@dataclass(frozen=True)
class Reference:
    """What the annotators say of one utterance."""

    key: str
    scores: Mapping[str, int]
    words: str
    canonical: Sequence[str]
    annotated: Sequence[str]


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    pairs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    top_confusions: list[tuple[str, str, int]] = field(default_factory=list)


def references_from(examples: Iterable[Example]) -> list[Reference]:
    return [
        Reference(
            key=e.utterance.utt,
            scores=e.utterance.scores,
            words=e.utterance.word_transcript,
            canonical=e.utterance.canonical_phones,
            annotated=split_phones(e.utterance.phoneme_transcript),
        )
        for e in examples
    ]


def read_predictions(path: Path) -> dict[str, dict[str, Any]]:
    predictions = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = str(record.get("utt") or record["recording_id"])
        except (ValueError, KeyError):
            raise ValueError(f"{path.name} line {number}: not an assessment with a recording_id") from None
        predictions[key] = record
    return predictions


def evaluate(references: Sequence[Reference], predictions: Mapping[str, Mapping[str, Any]]) -> Evaluation:
    pairs: dict[str, list[tuple[float, float]]] = {aspect: [] for aspect in SCORE_ASPECTS}
    missing, unparsed = [], []
    word_refs, word_hyps, phone_refs, phone_hyps = [], [], [], []
    mdd = MddCounts()
    recognised_pairs = []
    for ref in references:
        prediction = predictions.get(ref.key)
        if prediction is None:
            missing.append(ref.key)
            continue
        scores = prediction.get("scores") if prediction.get("status", "scored") == "scored" else None
        if scores:
            for aspect in SCORE_ASPECTS:
                pairs[aspect].append((float(scores[aspect]), float(ref.scores[aspect])))
        else:
            unparsed.append(ref.key)
        recognised = split_phones(prediction.get("phoneme_transcript") or "") if scores else []
        word_refs.append(ref.words)
        word_hyps.append(normalize_text(prediction.get("word_transcript") or "") if scores else "")
        phone_refs.append(" ".join(ref.annotated))
        phone_hyps.append(" ".join(recognised))
        mdd.add(ref.canonical, ref.annotated, recognised)
        recognised_pairs.append((ref.canonical, recognised))
    pcc = {aspect: pearson([p for p, _ in v], [h for _, h in v]).__dict__ for aspect, v in pairs.items()}
    metrics = {
        "utterances": len(references),
        "evaluated": len(references) - len(missing),
        "missing_predictions": len(missing),
        "unparseable": len(unparsed),
        "unparseable_rule": "left out of PCC; transcripts counted as empty (all deletions) in WER, PER and MDD",
        "pcc": pcc,
        "wer": error_rate(word_refs, word_hyps),
        "per": error_rate(phone_refs, phone_hyps),
        "mdd": mdd.as_dict(),
    }
    return Evaluation(metrics, pairs, confusions(recognised_pairs))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_report(evaluation: Evaluation, out: Path, title: str, meaningless: bool = False) -> list[Path]:
    """metrics.json, report.md (like the paper's Table 3), scatter plots and confusions."""
    from pronscore.plots import scatter

    out.mkdir(parents=True, exist_ok=True)
    m = evaluation.metrics
    written = [out / "metrics.json", out / "report.md"]
    (out / "metrics.json").write_text(json.dumps({**m, "top_confusions": evaluation.top_confusions}, indent=2))
    header = (
        "| system | accuracy | fluency | prosodic | total | WER | PER | precision | recall | F1 |\n" + "|---" * 10 + "|"
    )
    paper = PAPER_LORA_EPOCH3
    rows = [
        "| Ahn & Nam 2025, LoRA, epoch 3 | "
        + " | ".join(_fmt(paper["pcc"][a]) for a in SCORE_ASPECTS)
        + f" | {_fmt(paper['wer'])} | {_fmt(paper['per'])} | "
        + " | ".join(_fmt(paper["mdd"][k]) for k in ("precision", "recall", "f1"))
        + " |",
        f"| {title} | "
        + " | ".join(_fmt(m["pcc"][a]["pcc"]) for a in SCORE_ASPECTS)
        + f" | {_fmt(m['wer'])} | {_fmt(m['per'])} | "
        + " | ".join(_fmt(m["mdd"][k]) for k in ("precision", "recall", "f1"))
        + " |",
    ]
    intervals = "\n".join(
        f"- {a}: {_fmt(m['pcc'][a]['pcc'])} (95% CI {_fmt(m['pcc'][a]['low'])} to {_fmt(m['pcc'][a]['high'])},"
        f" n = {m['pcc'][a]['n']})"
        for a in SCORE_ASPECTS
    )
    d = m["mdd"]
    confusion_rows = "\n".join(f"| {e} | {h} | {n} |" for e, h, n in evaluation.top_confusions) or "| | | |"
    warning = (
        "\n**These predictions come from the tiny test checkpoint: the numbers mean nothing.**\n" if meaningless else ""
    )
    (out / "report.md").write_text(
        f"""# Evaluation: {title}
{warning}
{m["evaluated"]} of {m["utterances"]} utterances evaluated; {m["missing_predictions"]} without a prediction;
{m["unparseable"]} unparseable ({m["unparseable_rule"]}).

PCC (sentence scores), WER, PER and MDD, laid out like the paper's Table 3:

{header}
{chr(10).join(rows)}

PCC with 95% confidence intervals (Fisher z); n/a means undefined (fewer than three pairs, or
one side constant):
{intervals}

MDD counts: TA {d["ta"]}, FR {d["fr"]}, FA {d["fa"]}, TR {d["tr"]} (correct diagnosis {d["cd"]},
diagnosis error {d["de"]}); precision = TR/(TR+FR), recall = TR/(TR+FA).

## The twenty most frequent phone confusions (canonical -> recognised)

| canonical | recognised | count |
|---|---|---|
{confusion_rows}
"""
    )
    for aspect, pairs in evaluation.pairs.items():
        path = out / f"scatter-{aspect}.png"
        scatter(pairs, path, aspect, title)
        written.append(path)
    return written
