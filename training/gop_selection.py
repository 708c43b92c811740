"""Choosing the GOP calibration's regularisation by speaker-grouped cross-validation.

Every level (phone, word, the four sentence scores) regresses on all of its candidate
features at once, and only the ridge strength is chosen: the one whose predictions for
speakers held out of an inner split correlate best with the annotators. Choosing which
features to keep as well (greedy forward selection) did worse for the held-out speakers of
nested cross-validation on the sample (sentence accuracy 0.640 against 0.679): on 144
utterances a search over feature subsets fits the inner folds' noise. It sees only the
utterances it is given: called on an outer fold's training speakers
(`training.gop.cross_validate(..., choose=select)`), the fold's own speakers play no part in
what is chosen, so the outer figures are those of the whole recipe on new speakers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engines.gop.features import PHONE_FEATURES, POCKETSPHINX_FEATURES, UTTERANCE_FEATURES, WORD_FEATURES
from engines.gop.neural.norms import UTTERANCE_NORM_FEATURES, WORD_NORM_FEATURES
from engines.gop.neural.reading import READING_FEATURES
from scoring.scores import SCORE_ASPECTS
from training.gop import ALPHAS, FEATURES, Analysed, LevelRows, Selection, level_rows, phone_centres

# With the neural front end, PocketSphinx's own features, the Whisper decoder's fit of the
# reference and the log posteriors against the corpus's phone norms are candidates too
# (`select` keeps the candidates a level's rows have).
NEURAL_EXTRAS = POCKETSPHINX_FEATURES + READING_FEATURES
CANDIDATES = {
    "phone": PHONE_FEATURES + tuple(f"word_{name}" for name in READING_FEATURES),
    "word": WORD_FEATURES + NEURAL_EXTRAS + WORD_NORM_FEATURES,
} | {a: UTTERANCE_FEATURES + NEURAL_EXTRAS + UTTERANCE_NORM_FEATURES for a in SCORE_ASPECTS}
ALPHA_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
INNER_FOLDS = 4


def _ridge_predictions(x: np.ndarray, y: np.ndarray, train: np.ndarray, alpha: float) -> np.ndarray:
    """Predictions for the rows outside `train` of the ridge regression `Ridge.fit` makes."""
    mean, scale = x[train].mean(axis=0), x[train].std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    zt, yt = z[train], y[train]
    coef = np.linalg.solve(zt.T @ zt + alpha * len(yt) * np.eye(z.shape[1]), zt.T @ (yt - yt.mean()))
    return yt.mean() + z[~train] @ coef


def inner_pcc(x: np.ndarray, y: np.ndarray, groups: np.ndarray, alpha: float) -> float:
    """PCC of predictions pooled over speaker-grouped inner folds."""
    speakers = np.unique(groups)
    fold_of = {speaker: number % INNER_FOLDS for number, speaker in enumerate(speakers)}
    folds = np.array([fold_of[g] for g in groups])
    predicted = np.empty(len(y))
    for k in range(INNER_FOLDS):
        held = folds == k
        if held.all() or not held.any():
            continue
        predicted[held] = _ridge_predictions(x, y, ~held, alpha)
    if predicted.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(predicted, y)[0, 1])


def choose_alpha(rows: Sequence[dict[str, float]], targets: Sequence[float], speakers: Sequence[str],
                 features: Sequence[str]) -> float:  # fmt: skip
    """The ridge strength of `ALPHA_GRID` whose held-out predictions correlate best (the
    weakest of equals)."""
    table = np.array([[row[f] for f in features] for row in rows], dtype=float)
    y, groups = np.asarray(targets, dtype=float), np.asarray(speakers)
    scores = [inner_pcc(table, y, groups, alpha) for alpha in ALPHA_GRID]
    return ALPHA_GRID[int(np.argmax(scores))]


def select(items: Sequence[Analysed]) -> Selection:
    """Each level's features (every candidate its rows have) and alpha, chosen on `items`
    alone (the fixed recipe when they are too few speakers to cross-validate)."""
    usable = [item for item in items if item.analysis is not None]
    if len({item.utterance.speaker for item in usable}) < INNER_FOLDS:
        return Selection(FEATURES, ALPHAS)
    rows: LevelRows = level_rows(usable, phone_centres(usable))[0]
    features, alphas = {}, {}
    for level, candidates in CANDIDATES.items():
        features[level] = tuple(c for c in candidates if c in rows.rows[level][0])
        alphas[level] = choose_alpha(rows.rows[level], rows.targets[level], rows.speakers[level], features[level])
    return Selection(features, alphas)
