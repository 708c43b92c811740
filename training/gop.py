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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.gop.analysis import AlignmentFailed, Analyser, Analysis, WrongText, features
from engines.gop.assess import assessment, heard
from engines.gop.calibration import RANGES, Calibration, Ridge
from engines.gop.features import FRAME_SECONDS, POCKETSPHINX_SCALE, centred
from engines.gop.neural.norms import shipped_phone_norms
from scoring.alignment import Op
from scoring.audio import AudioError, decode
from scoring.scores import SCORE_ASPECTS
from scoring.speechocean import RatedUtterance
from training.data import Example

# The recipe for ratings of too few speakers to cross-validate (`training.gop_selection.select`
# needs four): a few features per level and fixed ridge strengths, which a dozen utterances
# can carry.
FEATURES = {
    "phone": ("gop", "competitor_wins"),
    "word": ("gop_mean", "gop_min", "lose_share"),
    "accuracy": ("agree_share", "low_share", "pause_count", "pause_seconds"),
    "fluency": ("gop_mean", "articulation_rate", "pause_count", "pause_seconds"),
    "prosodic": ("lose_share", "articulation_rate", "pause_count", "pause_seconds"),
    "total": ("agree_share", "low_share", "pause_count", "pause_seconds"),
}
ALPHAS = {"phone": 0.01, "word": 0.1, "accuracy": 0.3, "fluency": 0.3, "prosodic": 0.3, "total": 0.3}
REJECT_MARGIN = 10.0  # below the lowest 1% of the training utterances' mean GOP (PocketSphinx units)


@dataclass(frozen=True)
class Selection:
    """Each level's features and ridge regularisation."""

    features: dict[str, tuple[str, ...]]
    alphas: dict[str, float]


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
    F1 against the annotated mispronunciations (searched over the GOPs' own quantiles, so in
    any front end's units)."""
    rows = []
    for item in items:
        labelled = _labelled_phones(item)
        evidence = centred([e for e, _, _ in labelled], calibration_centres)
        rows.extend((e, wrong) for e, (_, _, wrong) in zip(evidence, labelled, strict=True))
    if not rows:
        return 0.0
    best, chosen = -1.0, 0.0
    candidates = np.unique(np.round(np.percentile([e.gop for e, _ in rows], np.arange(1.0, 60.0, 1.5)), 3))
    for threshold in [*candidates.tolist(), 0.0]:
        flagged = [heard(e, threshold).op is not Op.match for e, _ in rows]
        tp = sum(f and w for f, (_, w) in zip(flagged, rows, strict=True))
        precision = tp / max(sum(flagged), 1)
        recall = tp / max(sum(w for _, w in rows), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        if f1 > best:
            best, chosen = f1, float(threshold)
    return chosen


def phone_centres(usable: Sequence[Analysed]) -> dict[str, float]:
    """Each phone's median GOP over phones the annotators scored 2 (well said)."""
    correct: dict[str, list[float]] = defaultdict(list)
    for item in usable:
        for e, score, _ in _labelled_phones(item):
            if score >= 2:
                correct[e.phone].append(e.gop)
    return {phone: float(np.median(values)) for phone, values in sorted(correct.items())}


@dataclass
class LevelRows:
    """Feature rows, targets and each row's speaker, per calibration level."""

    rows: dict[str, list[dict[str, float]]]
    targets: dict[str, list[float]]
    speakers: dict[str, list[str]]


def phone_norms(usable: Sequence[Analysed]) -> dict[str, list[float]]:
    """The norms the `lpp_z_` features are measured against: the shipped corpus statistics
    with the neural front end, none with PocketSphinx alone."""
    if not any(item.analysis.neural for item in usable):  # type: ignore[union-attr]
        return {}
    return {phone: list(stats) for phone, stats in shipped_phone_norms().items()}


def level_rows(usable: Sequence[Analysed], centres: dict[str, float]) -> tuple[LevelRows, list[Any]]:
    """The rows every level's regression is fitted on, and each utterance's `Features`."""
    norms = phone_norms(usable)
    found = [features(item.analysis, centres, norms) for item in usable]  # type: ignore[arg-type]
    out = LevelRows(defaultdict(list), defaultdict(list), defaultdict(list))

    def add(level: str, row: dict[str, float], target: float, speaker: str) -> None:
        out.rows[level].append(row)
        out.targets[level].append(target)
        out.speakers[level].append(speaker)

    for item, f in zip(usable, found, strict=True):
        speaker = item.utterance.speaker
        by_position = {(e.word_index, e.start): e for e in f.evidence}
        for e, score, _ in _labelled_phones(item):
            add("phone", f.phone_row(by_position[(e.word_index, e.start)]), score, speaker)
        for index, word in enumerate(item.utterance.words):
            if word.accuracy is not None and index in f.words:
                add("word", f.words[index], word.accuracy, speaker)
        for aspect in SCORE_ASPECTS:
            add(aspect, f.utterance, item.utterance.scores[aspect], speaker)
    return out, found


def fit(
    items: Sequence[Analysed],
    version: str,
    trained_on: dict[str, Any] | None = None,
    chosen: Selection | None = None,
) -> Calibration:
    """`chosen`: each level's features and regularisation (default: `FEATURES` and `ALPHAS`;
    `training.gop_selection.select` takes every candidate and chooses the regularisation by
    cross-validation on `items` alone)."""
    usable = [item for item in items if item.analysis is not None]
    if len(usable) < 10:
        raise ValueError(f"only {len(usable)} utterances could be aligned; at least 10 are needed to calibrate")
    chosen = chosen or Selection(FEATURES, ALPHAS)
    centres = phone_centres(usable)
    rows, found = level_rows(usable, centres)
    models = {
        level: Ridge.fit(
            rows.rows[level],
            rows.targets[level],
            chosen.features[level],
            chosen.alphas[level],
            RANGES[level],
            match_spread=level in SCORE_ASPECTS,
        )
        for level in ("phone", "word", *SCORE_ASPECTS)
    }
    means = [f.utterance["gop_mean"] for f in found]
    scale = usable[0].analysis.scale  # type: ignore[union-attr]
    neural = any(item.analysis.neural for item in usable)  # type: ignore[union-attr]
    return Calibration(
        version=version,
        phone_centres=centres,
        min_gop_mean=float(np.percentile(means, 1) - REJECT_MARGIN * scale.low / POCKETSPHINX_SCALE.low),
        substitution_gop=_best_threshold(usable, centres),
        models=models,
        trained_on={"utterances": len(usable), "not_aligned": len(items) - len(usable), **(trained_on or {})},
        front_end="neural" if neural else "pocketsphinx",
        phone_norms=phone_norms(usable),
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
    fold_of: dict[str, int] = field(default_factory=dict)  # utterance -> outer fold
    phone_labels: list[tuple[float, bool]] = field(default_factory=list)  # (predicted, annotated as wrong)


def cross_validate(
    items: Sequence[Analysed],
    folds: int = 6,
    choose: Callable[[Sequence[Analysed]], Selection] | None = None,
) -> HeldOut:
    """Speaker-grouped cross-validation; with `choose`, nested: the regularisation is chosen on
    each fold's training speakers alone (`training.gop_selection.select`)."""
    held = HeldOut({}, [], [])
    for number, fold in enumerate(speaker_folds(items, folds)):
        test = set(fold)
        train = [item for i, item in enumerate(items) if i not in test]
        chosen = choose(train) if choose else None
        calibration = fit(train, "cross-validation", chosen=chosen)
        for i in fold:
            _predict(items[i], calibration, held, number)
    return held


def _predict(item: Analysed, calibration: Calibration, held: HeldOut, fold: int = 0) -> None:
    """Score one held-out utterance into `held`, with its phone and word pairs."""
    key = item.utterance.utt
    held.fold_of[key] = fold
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
    for e, score, wrong in _labelled_phones(item):
        predicted = by_position.get((e.word_index, round(e.start * FRAME_SECONDS, 2)))
        if predicted is not None:
            held.phone_pairs.append((predicted, score))
            held.phone_labels.append((predicted, wrong))
    for word in result.word_scores:
        label = item.utterance.words[word.index].accuracy if word.index < len(item.utterance.words) else None
        if word.accuracy is not None and label is not None:
            held.word_pairs.append((word.accuracy, label))
