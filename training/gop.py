"""Fitting the GOP engine's calibration on rated speech, and measuring it on held-out speakers.

`analyse` runs every utterance through the aligner and the phone loop once; `fit` turns the
analyses and the annotators' labels into a `Calibration` (each phone's usual GOP, the
thresholds, one small ridge regression per level); `cross_validate` fits on some speakers and
predicts the others, so the figures say how the engine does on learners it has not seen.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.gop.analysis import AlignmentFailed, Analyser, Analysis, WrongText, features
from engines.gop.assess import assessment, heard
from engines.gop.calibration import RANGES, Calibration, Ridge
from engines.gop.features import FRAME_SECONDS, centred, phone_features
from scoring.alignment import Op
from scoring.audio import AudioError, decode
from scoring.scores import SCORE_ASPECTS
from scoring.speechocean import RatedUtterance
from training.data import Example

# A few features per level, chosen by speaker-grouped cross-validation on the sample: more
# overfit 144 utterances.
FEATURES = {
    "phone": ("gop", "competitor_wins"),
    "word": ("gop_mean", "gop_min", "lose_share"),
    "accuracy": ("agree_share", "low_share", "pause_count", "pause_seconds"),
    "fluency": ("gop_mean", "articulation_rate", "pause_count", "pause_seconds"),
    "prosodic": ("lose_share", "articulation_rate", "pause_count", "pause_seconds"),
    "total": ("agree_share", "low_share", "pause_count", "pause_seconds"),
}
ALPHAS = {"phone": 0.01, "word": 0.1, "accuracy": 0.3, "fluency": 0.3, "prosodic": 0.3, "total": 0.3}
REJECT_MARGIN = 10.0  # below the lowest 1% of the training utterances' mean GOP


@dataclass(frozen=True)
class Analysed:
    utterance: RatedUtterance
    analysis: Analysis | None  # None: no alignment was found


def analyse(
    examples: Sequence[Example],
    analyser: Analyser,
    max_audio_seconds: float,
    progress: Callable[[], None] = lambda: None,
) -> list[Analysed]:
    done = []
    for example in examples:
        try:
            samples = decode(example.audio.read_bytes(), max_audio_seconds)
            found = analyser.analyse(samples, example.utterance.text)
        except (AudioError, AlignmentFailed):
            found = None
        done.append(Analysed(example.utterance, found))
        progress()
    return done


def _labelled_phones(item: Analysed) -> list[tuple[Any, float, bool]]:
    """(raw evidence, annotated phone score, annotated as mispronounced) for each aligned phone
    of a word whose aligned variant has as many phones as the annotated one."""
    assert item.analysis is not None
    pairs = []
    for index, word in enumerate(item.utterance.words):
        evidence = [e for e in item.analysis.evidence if e.word_index == index]
        if len(evidence) != len(word.phones) or len(word.phone_scores) != len(word.phones):
            continue
        wrong = {m.index for m in word.mispronunciations}
        pairs.extend((e, s, i in wrong) for i, (e, s) in enumerate(zip(evidence, word.phone_scores, strict=True)))
    return pairs


def _best_threshold(items: Sequence[Analysed], calibration_centres: dict[str, float]) -> float:
    """The GOP threshold under which a phone is reported as heard otherwise that gives the best
    F1 against the annotated mispronunciations."""
    rows = []
    for item in items:
        labelled = _labelled_phones(item)
        evidence = centred([e for e, _, _ in labelled], calibration_centres)
        rows.extend((e, wrong) for e, (_, _, wrong) in zip(evidence, labelled, strict=True))
    best, chosen = -1.0, 0.0
    for threshold in np.arange(-80.0, 1.0, 2.5):
        flagged = [heard(e, threshold).op is not Op.match for e, _ in rows]
        tp = sum(f and w for f, (_, w) in zip(flagged, rows, strict=True))
        precision = tp / max(sum(flagged), 1)
        recall = tp / max(sum(w for _, w in rows), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        if f1 > best:
            best, chosen = f1, float(threshold)
    return chosen


def fit(items: Sequence[Analysed], version: str, trained_on: dict[str, Any] | None = None) -> Calibration:
    usable = [item for item in items if item.analysis is not None]
    if len(usable) < 10:
        raise ValueError(f"only {len(usable)} utterances could be aligned; at least 10 are needed to calibrate")
    correct: dict[str, list[float]] = defaultdict(list)
    for item in usable:
        for e, score, _ in _labelled_phones(item):
            if score >= 2:
                correct[e.phone].append(e.gop)
    centres = {phone: float(np.median(values)) for phone, values in sorted(correct.items())}
    found = [features(item.analysis, centres) for item in usable]  # type: ignore[arg-type]
    phone_rows, phone_targets, word_rows, word_targets = [], [], [], []
    for item, f in zip(usable, found, strict=True):
        by_position = {(e.word_index, e.start): e for e in f.evidence}
        for e, score, _ in _labelled_phones(item):
            phone_rows.append(phone_features(by_position[(e.word_index, e.start)]))
            phone_targets.append(score)
        for index, word in enumerate(item.utterance.words):
            if word.accuracy is not None and index in f.words:
                word_rows.append(f.words[index])
                word_targets.append(word.accuracy)
    models = {
        "phone": Ridge.fit(phone_rows, phone_targets, FEATURES["phone"], ALPHAS["phone"], RANGES["phone"]),
        "word": Ridge.fit(word_rows, word_targets, FEATURES["word"], ALPHAS["word"], RANGES["word"]),
    }
    for aspect in SCORE_ASPECTS:
        targets = [item.utterance.scores[aspect] for item in usable]
        models[aspect] = Ridge.fit([f.utterance for f in found], targets, FEATURES[aspect], ALPHAS[aspect],
                                   RANGES[aspect], match_spread=True)  # fmt: skip
    means = [f.utterance["gop_mean"] for f in found]
    return Calibration(
        version=version,
        phone_centres=centres,
        min_gop_mean=float(np.percentile(means, 1) - REJECT_MARGIN),
        substitution_gop=_best_threshold(usable, centres),
        models=models,
        trained_on={"utterances": len(usable), "not_aligned": len(items) - len(usable), **(trained_on or {})},
    )


def fingerprint(items: Sequence[Analysed]) -> str:
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.utterance.utt):
        u = item.utterance
        digest.update(json.dumps([u.utt, u.text, u.scores]).encode())
    return digest.hexdigest()


def speaker_folds(items: Sequence[Analysed], folds: int) -> list[list[int]]:
    """Indices of `items` in `folds` groups of whole speakers (sorted speakers dealt in turn)."""
    speakers = sorted({item.utterance.speaker for item in items})
    fold_of = {speaker: number % folds for number, speaker in enumerate(speakers)}
    return [[i for i, item in enumerate(items) if fold_of[item.utterance.speaker] == k] for k in range(folds)]


@dataclass
class HeldOut:
    """Predictions for utterances of speakers the calibration never saw."""

    predictions: dict[str, dict[str, Any]]
    phone_pairs: list[tuple[float, float]]
    word_pairs: list[tuple[float, float]]


def cross_validate(items: Sequence[Analysed], folds: int = 6) -> HeldOut:
    held = HeldOut({}, [], [])
    for fold in speaker_folds(items, folds):
        test = set(fold)
        calibration = fit([item for i, item in enumerate(items) if i not in test], "cross-validation")
        for i in fold:
            _predict(items[i], calibration, held)
    return held


def _predict(item: Analysed, calibration: Calibration, held: HeldOut) -> None:
    """Score one held-out utterance into `held`, with its phone and word pairs."""
    key = item.utterance.utt
    if item.analysis is None:
        held.predictions[key] = {"recording_id": key, "status": "failed", "reason": "alignment_failed"}
        return
    try:
        result = assessment(item.analysis, calibration)
    except WrongText:
        held.predictions[key] = {"recording_id": key, "status": "failed", "reason": "wrong_text"}
        return
    except AlignmentFailed:
        held.predictions[key] = {"recording_id": key, "status": "failed", "reason": "alignment_failed"}
        return
    held.predictions[key] = {"recording_id": key, **result.to_dict()}
    by_position = {(p.word_index, round(p.start, 2)): p.score for p in result.phone_scores}
    for e, score, _ in _labelled_phones(item):
        predicted = by_position.get((e.word_index, round(e.start * FRAME_SECONDS, 2)))
        if predicted is not None:
            held.phone_pairs.append((predicted, score))
    for word in result.word_scores:
        label = item.utterance.words[word.index].accuracy if word.index < len(item.utterance.words) else None
        if word.accuracy is not None and label is not None:
            held.word_pairs.append((word.accuracy, label))
