"""Evaluation of a model's assessments against human scores, laid out beside the paper's table.

Predictions are assessments in the shape `pronscore score` prints (one JSON object a line,
keyed by `recording_id` or `utt`), from our engine or any other system. An answer that could
not be parsed is left out of the correlations unless its scores were read (the `paper` format
asks for scores and transcripts in two turns, and one may parse while the other does not); its
transcripts count as empty, so every reference word and phone counts as deleted in WER, PER
and MDD.
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
    missing, unparsed, scores_kept = [], [], 0
    word_refs, word_hyps, phone_refs, phone_hyps = [], [], [], []
    mdd = MddCounts()
    recognised_pairs = []
    for ref in references:
        prediction = predictions.get(ref.key)
        if prediction is None:
            missing.append(ref.key)
            continue
        scored = prediction.get("status", "scored") == "scored"
        scores = prediction.get("scores")
        if scores:
            for aspect in SCORE_ASPECTS:
                pairs[aspect].append((float(scores[aspect]), float(ref.scores[aspect])))
        if not scored:
            unparsed.append(ref.key)
            scores_kept += bool(scores)
        recognised = split_phones(prediction.get("phoneme_transcript") or "") if scored else []
        word_refs.append(ref.words)
        word_hyps.append(normalize_text(prediction.get("word_transcript") or "") if scored else "")
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
        "unparseable_scores_kept": scores_kept,
        "unparseable_rule": "left out of PCC unless their scores were read (a paper-format answer whose "
        "transcription turn failed); transcripts counted as empty (all deletions) in WER, PER and MDD",
        "pcc": pcc,
        "wer": error_rate(word_refs, word_hyps),
        "per": error_rate(phone_refs, phone_hyps),
        "mdd": mdd.as_dict(),
    }
    return Evaluation(metrics, pairs, confusions(recognised_pairs))


def task_format_of(predictions: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The task format the predictions say they were made in (`model.task_format`), when one."""
    formats = {(p.get("model") or {}).get("task_format") for p in predictions.values()}
    return formats.pop() if len(formats) == 1 else None


def _comparability(task_format: str | None) -> tuple[str, str]:
    """A mark for the transcript columns of our row, and the note that explains it."""
    if task_format == "paper":
        return "", ""
    if task_format is not None and task_format.startswith("gop-"):
        return "†", (
            "\n† Not comparable with the paper's row: the GOP engine aligns the reference sentence itself, so its "
            "word transcript is the reference less the words it found omitted, and its phones are the canonical "
            "ones with what the phone loop heard instead where that fit better. The PCC columns compare like "
            "with like.\n"
        )
    if task_format == "joint-v1":
        return "†", (
            "\n† Not comparable with the paper's row: `joint-v1` puts the reference sentence in the prompt, so "
            "its transcripts (WER, PER) and mispronunciation detection (MDD) are made knowing what the learner "
            "should have said, while the paper's transcription prompt has only the audio. The PCC columns "
            "compare like with like.\n"
        )
    return "†", (
        "\n† The task format of these predictions is unknown: if the system was given the reference sentence, "
        "its WER, PER and MDD are not comparable with the paper's row.\n"
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_report(
    evaluation: Evaluation, out: Path, title: str, meaningless: bool = False, task_format: str | None = None
) -> list[Path]:
    """metrics.json, report.md (like the paper's Table 3), scatter plots and confusions;
    `task_format` says whether our transcript columns compare with the paper's."""
    from pronscore.plots import scatter

    out.mkdir(parents=True, exist_ok=True)
    m = evaluation.metrics
    written = [out / "metrics.json", out / "report.md"]
    (out / "metrics.json").write_text(json.dumps({**m, "top_confusions": evaluation.top_confusions}, indent=2))
    header = (
        "| system | accuracy | fluency | prosodic | total | WER | PER | precision | recall | F1 |\n" + "|---" * 10 + "|"
    )
    paper = PAPER_LORA_EPOCH3
    mark, note = _comparability(task_format)
    rows = [
        "| Ahn & Nam 2025, LoRA, epoch 3 | "
        + " | ".join(_fmt(paper["pcc"][a]) for a in SCORE_ASPECTS)
        + f" | {_fmt(paper['wer'])} | {_fmt(paper['per'])} | "
        + " | ".join(_fmt(paper["mdd"][k]) for k in ("precision", "recall", "f1"))
        + " |",
        f"| {title} | "
        + " | ".join(_fmt(m["pcc"][a]["pcc"]) for a in SCORE_ASPECTS)
        + f" | {_fmt(m['wer'])}{mark} | {_fmt(m['per'])}{mark} | "
        + " | ".join(_fmt(m["mdd"][k]) + mark for k in ("precision", "recall", "f1"))
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
{m["unparseable"]} unparseable ({m["unparseable_rule"]}); {m["unparseable_scores_kept"]} of these kept their scores.

PCC (sentence scores), WER, PER and MDD, laid out like the paper's Table 3:

{header}
{chr(10).join(rows)}
{note}
PCC with 95% confidence intervals (Fisher z); n/a means undefined (fewer than three pairs, or
one side constant):
{intervals}

MDD counts: TA {d["ta"]}, FR {d["fr"]}, FA {d["fa"]}, TR {d["tr"]} (correct diagnosis {d["cd"]},
diagnosis error {d["de"]}); precision = TR/(TR+FR), recall = TR/(TR+FA). These count canonical
phones only: the {d["insertions"]} phones the model inserted (the annotators marked
{d["annotated_insertions"]}) are in none of them, while PER counts each as an error.

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
