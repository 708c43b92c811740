"""Each phone's usual log posterior over many learners' reads, from unlabelled corpus audio.

The classifier hears some phones less surely than others, whoever says them, so a sentence's
mean log posterior depends on its mix of phones as much as on the reading. Measured against
each phone's own mean and spread over hundreds of reads of the corpus's training speakers
(`training/gop_norms.py`: no labels needed), a phone's log posterior becomes a z-score that
judges every sentence's phones evenly; the 144 labelled utterances hold too few of some phones
for such statistics. A calibration stores the norms it was fitted with, so its features never
change under it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources

import numpy as np

from engines.gop.features import PhoneEvidence

NORMS = "data/phone-norms.json"
UTTERANCE_NORM_FEATURES = ("lpp_z_mean", "lpp_z_p10")
WORD_NORM_FEATURES = ("lpp_z_mean", "lpp_z_min")
PhoneNorms = Mapping[str, Sequence[float]]  # phone -> (mean, standard deviation) of its log posterior


@functools.cache
def shipped_phone_norms() -> dict[str, tuple[float, float]]:
    body = json.loads(resources.files("engines.gop").joinpath(NORMS).read_text(encoding="utf-8"))
    return {phone: (float(mean), float(std)) for phone, (mean, std) in body["phones"].items()}


def lpp_z(evidence: Sequence[PhoneEvidence], norms: PhoneNorms) -> np.ndarray:
    """Each phone's per-frame log posterior as a z-score against its norm (0 for a phone the
    norms lack)."""
    scores = []
    for e in evidence:
        mean, std = norms.get(e.phone, (None, None))
        scores.append(0.0 if mean is None else (e.score / max(e.duration, 1) - mean) / std)
    return np.array(scores)


def utterance_norm_features(evidence: Sequence[PhoneEvidence], norms: PhoneNorms) -> dict[str, float]:
    z = lpp_z(evidence, norms)
    return {"lpp_z_mean": float(z.mean()), "lpp_z_p10": float(np.percentile(z, 10))}


def word_norm_features(evidence: Sequence[PhoneEvidence], norms: PhoneNorms) -> dict[str, float]:
    z = lpp_z(evidence, norms)
    return {"lpp_z_mean": float(z.mean()), "lpp_z_min": float(z.min())}
