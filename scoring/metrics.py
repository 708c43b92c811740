"""Evaluation metrics: Pearson correlation with a confidence interval, WER and PER, and
mispronunciation detection and diagnosis (MDD) with the standard hierarchy.

MDD compares, for every canonical phone, what the annotators heard with what the model heard,
through two alignments against the canonical phones (a three-way alignment):

- TA (true acceptance): both say correct; FR (false rejection): annotators correct, model not;
- FA (false acceptance): annotators heard an error, the model says correct;
- TR (true rejection): both heard an error, split into CD (correct diagnosis: the same phone,
  or both a deletion) and DE (diagnosis error).

precision = TR / (TR + FR), recall = TR / (TR + FA), F1 their harmonic mean.

The hierarchy counts canonical phones only, so a phone inserted between canonical ones (by
the annotators or by the model) is in none of the four counts, while PER counts it as an
error. Insertions are counted beside the hierarchy (`insertions`, `annotated_insertions`) so
a report can say how many there were.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import jiwer
from scipy import stats

from scoring.alignment import Op, align

DELETED = "<del>"


@dataclass(frozen=True)
class Correlation:
    pcc: float | None
    low: float | None
    high: float | None
    n: int


def pearson(predicted: Sequence[float], human: Sequence[float]) -> Correlation:
    """Pearson's r with a 95% interval by Fisher's z; None where it is undefined."""
    n = len(predicted)
    if n < 3 or len(set(predicted)) < 2 or len(set(human)) < 2:
        return Correlation(None, None, None, n)
    r = float(stats.pearsonr(predicted, human).statistic)
    if abs(r) >= 1.0:
        return Correlation(r, r, r, n)
    z, half = math.atanh(r), 1.959964 / math.sqrt(n - 3) if n > 3 else math.inf
    return Correlation(r, math.tanh(z - half), math.tanh(z + half), n)


def error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word (or, on phone strings, phone) error rate over a corpus; an empty hypothesis counts
    every reference token as deleted."""
    pairs = [(r, h) for r, h in zip(references, hypotheses, strict=True) if r.strip()]
    if not pairs:
        return 0.0
    refs, hyps = zip(*pairs, strict=True)
    return float(jiwer.wer(list(refs), [h if h.strip() else "" for h in hyps]))


def _against_canonical(canonical: Sequence[str], heard: Sequence[str]) -> tuple[list[str], int]:
    """For each canonical phone, the phone heard in its place (or `<del>`); and how many heard
    phones were inserted between canonical ones."""
    result, inserted = [DELETED] * len(canonical), 0
    for edit in align(canonical, heard):
        if edit.expected_index is not None and edit.op in (Op.match, Op.substitution):
            result[edit.expected_index] = edit.actual or DELETED
        inserted += edit.op == Op.insertion
    return result, inserted


def heard_per_canonical(canonical: Sequence[str], heard: Sequence[str]) -> list[str]:
    """For each canonical phone, the phone heard in its place, or `<del>`."""
    return _against_canonical(canonical, heard)[0]


@dataclass
class MddCounts:
    ta: int = 0
    fr: int = 0
    fa: int = 0
    cd: int = 0
    de: int = 0
    insertions: int = 0  # phones the model inserted: outside the hierarchy, counted by PER
    annotated_insertions: int = 0  # phones the annotators marked as inserted

    @property
    def tr(self) -> int:
        return self.cd + self.de

    @property
    def precision(self) -> float:
        return self.tr / (self.tr + self.fr) if self.tr + self.fr else 0.0

    @property
    def recall(self) -> float:
        return self.tr / (self.tr + self.fa) if self.tr + self.fa else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, canonical: Sequence[str], annotated: Sequence[str], recognised: Sequence[str]) -> None:
        human, human_inserted = _against_canonical(canonical, annotated)
        model, model_inserted = _against_canonical(canonical, recognised)
        self.annotated_insertions += human_inserted
        self.insertions += model_inserted
        for expected, said_human, said_model in zip(canonical, human, model, strict=True):
            human_ok, model_ok = said_human == expected, said_model == expected
            if human_ok and model_ok:
                self.ta += 1
            elif human_ok:
                self.fr += 1
            elif model_ok:
                self.fa += 1
            elif said_human == said_model:
                self.cd += 1
            else:
                self.de += 1

    def as_dict(self) -> dict[str, float]:
        return {
            **asdict(self),
            "tr": self.tr,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def confusions(canonical_and_recognised: Sequence[tuple[Sequence[str], Sequence[str]]], top: int = 20) -> list:
    """The most frequent canonical -> recognised substitutions and deletions."""
    counter: Counter[tuple[str, str]] = Counter()
    for canonical, recognised in canonical_and_recognised:
        for expected, heard in zip(canonical, heard_per_canonical(canonical, recognised), strict=True):
            if heard != expected:
                counter[(expected, heard)] += 1
    return [(expected, heard, n) for (expected, heard), n in counter.most_common(top)]
