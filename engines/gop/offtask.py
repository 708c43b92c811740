"""Was the reference read at all? The check that tells another sentence (or no reading) from
this sentence read badly.

Forced alignment always puts the reference's phones somewhere, and both a weak reading and
another sentence fit them worse than usual; what separates them is how the misfit is spread.
A weak reading fits most phones fairly and some badly; another sentence fits most phones badly
(the lower quartile of the phones' GOP falls far below a reading's), crams phones it cannot
place into the model's shortest duration, and puts phones where the free phone loop heard
nothing like them. These, with the whole alignment's fit against the loop (per frame; raw GOP,
not centred, so no calibration is needed), feed a small logistic model fitted on own reads
against other sentences of speechocean762's training speakers (`training/gop_offtask.py`),
stored with its threshold in `data/offtask.json`. When forced alignment failed and the phones
were placed on the loop's output instead, there is no acoustic fit to weigh: the reference
counts as read when the loop heard at least `MIN_LOOP_MATCH` of its phones.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from engines.gop.analysis import Analysis, WrongText
from engines.gop.features import PhoneEvidence
from engines.gop.neural.reading import READING_FEATURES, ReadingFit
from engines.gop.phone_loop import LoopSegment

FEATURES = ("fit", "gop_p25", "short_share", "near_share")
NEURAL_FEATURES = FEATURES + READING_FEATURES + ("nn_gop_p25", "nn_gop_mean", "nn_lose_share")
SHIPPED = {"pocketsphinx": "data/offtask.json", "neural": "data/offtask-neural.json"}
SHORTEST = 3  # frames: one per state of a phone's HMM
NEAR = 5  # frames: how far from its aligned place the loop may have heard a phone
MIN_LOOP_MATCH = 0.5


@dataclass(frozen=True)
class OffTaskModel:
    """Log-odds that the reference was not read: intercept + coef · (x - mean) / scale; a
    recording is rejected when they exceed `threshold`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    trained_on: dict[str, Any] = field(default_factory=dict)

    def log_odds(self, values: Mapping[str, float]) -> float:
        x = (np.array([values[f] for f in self.features]) - self.mean) / self.scale
        return float(self.intercept + x @ np.array(self.coef))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> OffTaskModel:
        body = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in body.items()})


@functools.cache
def load_offtask(path: Path | None = None, front_end: str = "pocketsphinx") -> OffTaskModel:
    """The model at `path`, or the one shipped with pronscore for the front end."""
    if path is None:
        return OffTaskModel.from_json(shipped_text(front_end))
    return OffTaskModel.from_json(Path(path).read_text(encoding="utf-8"))


def shipped_text(front_end: str = "pocketsphinx") -> str:
    return resources.files("engines.gop").joinpath(SHIPPED[front_end]).read_text(encoding="utf-8")


def shipped_sha256(front_end: str = "pocketsphinx") -> str:
    return hashlib.sha256(shipped_text(front_end).encode()).hexdigest()


def offtask_features(
    evidence: Sequence[PhoneEvidence], loop: Sequence[LoopSegment], reading: ReadingFit | None = None
) -> dict[str, float]:
    """The evidence the model weighs; `evidence` holds each phone's raw (not centred) PocketSphinx
    GOP, `reading` the decoder's fit of the reference where the neural front end ran."""
    frames = sum(e.duration for e in evidence)
    speech = [s for s in loop if not s.silent]
    near = [
        any(s.phone == e.phone and s.end >= e.start - NEAR and s.start < e.start + e.duration + NEAR for s in speech)
        for e in evidence
    ]
    return {
        "fit": (sum(e.score for e in evidence) - sum(e.competitor_score for e in evidence)) / max(frames, 1),
        "gop_p25": float(np.percentile([e.gop for e in evidence], 25)),
        "short_share": float(np.mean([e.duration <= SHORTEST for e in evidence])),
        "near_share": float(np.mean(near)),
    } | (reading.features() if reading is not None else {})


def neural_features(evidence: Sequence[PhoneEvidence]) -> dict[str, float]:
    """The phone classifier's view of the same phones (GOP-NN, raw): another sentence leaves most
    canonical phones beaten by another phone, a weak reading only some."""
    gops = np.array([e.gop for e in evidence])
    return {
        "nn_gop_p25": float(np.percentile(gops, 25)),
        "nn_gop_mean": float(gops.mean()),
        "nn_lose_share": float(np.mean([e.competitor_wins for e in evidence])),
    }


def analysis_features(analysis: Analysis) -> dict[str, float]:
    """`offtask_features` of an analysis's PocketSphinx evidence; with the neural front end, its
    own evidence (`neural_features`) and the decoder's fit of the reference are added."""
    found = offtask_features(analysis.sphinx_evidence, analysis.loop, analysis.reading)
    return found | neural_features(analysis.evidence) if analysis.neural else found


def loop_match(evidence: Sequence[PhoneEvidence]) -> float:
    """The share of canonical phones the phone loop heard as themselves."""
    return float(np.mean([e.competitor == e.phone and e.duration > 0 for e in evidence]))


def check_read(analysis: Analysis, model: OffTaskModel) -> None:
    """Raise `WrongText` when the reference was not what was read."""
    if analysis.method == "loop":
        matched = loop_match(analysis.sphinx_evidence)
        if matched < MIN_LOOP_MATCH:
            raise WrongText(
                f"the reference sentence was not what was read: it could not be aligned, and the phone loop "
                f"heard {matched:.0%} of its phones (< {MIN_LOOP_MATCH:.0%})"
            )
        return
    found = analysis_features(analysis)
    odds = model.log_odds(found)
    if odds > model.threshold:
        heard = (
            f", its words {found['asr_mean']:.1f} nats a token to a speech recogniser" if "asr_mean" in found else ""
        )
        raise WrongText(
            f"the reference sentence was not what was read: its phones fit the audio as another sentence's "
            f"do (off-task log-odds {odds:.1f} > {model.threshold:.1f}; lower-quartile phone GOP "
            f"{found['gop_p25']:.0f}, {found['short_share']:.0%} of phones at the shortest duration, "
            f"{found['near_share']:.0%} heard near their place{heard})"
        )
