"""Fitting the GOP engine's off-task check: own reads against other sentences.

Each chosen recording is analysed against its own sentence (a reading, however good or bad)
and against `others` sentences of other recordings (not a reading); a logistic regression on
`offtask.FEATURES` (`NEURAL_FEATURES` with `--front-end neural`) separates them, and its
threshold is set so that at most `own_rejected` of the own reads are rejected. Recordings
whose analysis already fails (silence, noise: no alignment) are left out, as the engine fails
them before this check. The sample's speakers (`--exclude`) and the evaluation speakers of
`training.frontend_data` are never drawn.

    .venv/bin/python -m training.gop_offtask --data /path/to/speechocean762 --split train \\
        --exclude data/speechocean762-sample --limit 240 --out engines/gop/data/offtask.json
    .venv/bin/python -m training.gop_offtask ... --front-end neural --out engines/gop/data/offtask-neural.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.gop.analysis import AlignmentFailed, Analyser
from engines.gop.neural.frontend import load_front_end
from engines.gop.offtask import FEATURES, NEURAL_FEATURES, OffTaskModel, analysis_features
from scoring.audio import AudioError, decode
from training.data import Example, load_dataset
from training.frontend_data import EVALUATION_SPEAKERS

# The share of the training's own reads the threshold may reject: half the 1% aimed at on new
# speakers, as a quantile of a few hundred reads is itself uncertain.
OWN_REJECTED = 0.005
L2 = 1e-3


@dataclass(frozen=True)
class Read:
    """A recording of a sentence read aloud; no ratings needed."""

    utt: str
    speaker: str
    text: str
    audio: Path


@dataclass(frozen=True)
class Pair:
    read: Read
    text: str
    own: bool


def rated_reads(examples: Sequence[Example]) -> list[Read]:
    return [Read(e.utterance.utt, e.utterance.speaker, e.utterance.text, e.audio) for e in examples]


def corpus_reads(root: Path, split: str) -> list[Read]:
    """The reads of a speechocean762 release's split from its Kaldi folder (`text`, `wav.scp`,
    `utt2spk`): its audio, unlabelled."""

    def table(name: str) -> dict[str, str]:
        rows = (line.split(maxsplit=1) for line in (root / split / name).read_text(encoding="utf-8").splitlines())
        return {row[0]: row[1].strip() for row in rows if len(row) == 2}

    text, audio, speaker = table("text"), table("wav.scp"), table("utt2spk")
    return [Read(utt, speaker[utt], text[utt], root / audio[utt]) for utt in sorted(text)]


def drawn_reads(root: Path, split: str, exclude: Path | None, limit: int) -> list[Read]:
    """`limit` reads of the split drawn at random (seeded: a rerun draws the same), none by a
    speaker of the dataset at `exclude` or by the evaluation speakers of `training.frontend_data`."""
    excluded = {e.utterance.speaker for e in load_dataset(exclude).examples} if exclude else set()
    excluded |= EVALUATION_SPEAKERS
    reads = [r for r in corpus_reads(root, split) if r.speaker not in excluded]
    return random.Random(0).sample(reads, min(limit, len(reads)))


def pairs(reads: Sequence[Read], others: int, seed: int = 0) -> list[Pair]:
    """Each recording with its own sentence and `others` sentences drawn from other recordings."""
    rng = random.Random(seed)
    texts = sorted({r.text for r in reads})
    chosen = []
    for read in reads:
        chosen.append(Pair(read, read.text, True))
        candidates = [t for t in texts if t != read.text]
        chosen.extend(Pair(read, text, False) for text in rng.sample(candidates, min(others, len(candidates))))
    return chosen


def collect(
    chosen: Sequence[Pair], analyser: Analyser, max_audio_seconds: float, progress: Callable[[], None] = lambda: None
) -> list[tuple[dict[str, float], bool]]:
    """(features, own read) of each pair the analysis does not already reject, forced
    alignments only (`offtask` judges the loop fallback by another rule)."""
    rows = []
    for pair in chosen:
        try:
            samples = decode(pair.read.audio.read_bytes(), max_audio_seconds)
            found = analyser.analyse(samples, pair.text)
        except (AudioError, AlignmentFailed):
            progress()
            continue
        if found.method == "forced":
            rows.append((analysis_features(found), pair.own))
        progress()
    return rows


def fit(
    rows: Sequence[tuple[dict[str, float], bool]],
    own_rejected: float = OWN_REJECTED,
    features: tuple[str, ...] = FEATURES,
) -> OffTaskModel:
    """Logistic regression (Newton's method, a little L2) of "not a reading" on the features."""
    x = np.array([[values[f] for f in features] for values, _ in rows], dtype=float)
    y = np.array([0.0 if own else 1.0 for _, own in rows])
    if y.min() == y.max():
        raise ValueError("fitting the off-task check needs own reads and other sentences")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(y), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + L2 * len(y) * np.r_[0.0, w[1:]]
        hessian = (z.T * (p * (1 - p))) @ z + L2 * len(y) * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    own_odds = z[y == 0] @ w
    threshold = float(np.quantile(own_odds, 1.0 - own_rejected))
    other_odds = z[y == 1] @ w
    return OffTaskModel(
        features=features,
        mean=tuple(mean.tolist()),
        scale=tuple(scale.tolist()),
        coef=tuple(w[1:].tolist()),
        intercept=float(w[0]),
        threshold=threshold,
        trained_on={
            "own_reads": int((y == 0).sum()),
            "other_sentences": int((y == 1).sum()),
            "own_rejected": round(float((own_odds > threshold).mean()), 4),
            "others_caught": round(float((other_odds > threshold).mean()), 4),
        },
    )


def _progress(total: int) -> Callable[[], None]:
    done = [0]

    def advance() -> None:
        done[0] += 1
        if done[0] % 50 == 0 or done[0] == total:
            print(f"analysed {done[0]} of {total}", file=sys.stderr, flush=True)

    return advance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="speechocean762 release folder (ratings not needed)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--exclude", type=Path, help="leave out the speakers of this dataset (the evaluation data)")
    parser.add_argument("--limit", type=int, default=240, help="recordings, drawn at random")
    parser.add_argument("--others", type=int, default=2, help="other sentences per recording")
    parser.add_argument("--out", type=Path, default=Path("offtask.json"))
    parser.add_argument("--rows", type=Path, help="also write each pair's features and label (JSON Lines)")
    parser.add_argument("--front-end", choices=("pocketsphinx", "neural"), default="pocketsphinx")
    parser.add_argument("--own-rejected", type=float, default=OWN_REJECTED, help="share of own reads rejected")
    args = parser.parse_args()
    reads = drawn_reads(args.data, args.split, args.exclude, args.limit)
    chosen = pairs(reads, args.others)
    neural = args.front_end == "neural"
    rows = collect(chosen, Analyser(front_end=load_front_end() if neural else None), 40.0, _progress(len(chosen)))
    if args.rows:
        args.rows.write_text("".join(json.dumps([values, own]) + "\n" for values, own in rows), encoding="utf-8")
    model = fit(rows, args.own_rejected, NEURAL_FEATURES if neural else FEATURES)
    speakers = len({r.speaker for r in reads})
    trained = {"data": args.data.name, "split": args.split, "front_end": args.front_end, "recordings": len(reads),
               "speakers": speakers, "excluded_speakers_of": str(args.exclude) if args.exclude else None,
               **model.trained_on}  # fmt: skip
    model = OffTaskModel(**{**model.__dict__, "trained_on": trained})
    args.out.write_text(model.to_json(), encoding="utf-8")
    print(model.to_json())


if __name__ == "__main__":
    main()
