"""The phone norms of the neural front end: the z-scores on made-up evidence, the features they
add, and the shipped file's provenance."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.gop.aligner import AlignedPhone, AlignedWord, ForcedAlignment
from engines.gop.analysis import Analysis, features
from engines.gop.features import PhoneEvidence
from engines.gop.neural.classes import PHONE_CLASSES, SILENCE
from engines.gop.neural.classifier import load_classifier
from engines.gop.neural.evidence import NEURAL_SCALE
from engines.gop.neural.norms import (
    UTTERANCE_NORM_FEATURES,
    WORD_NORM_FEATURES,
    lpp_z,
    shipped_phone_norms,
    utterance_norm_features,
)
from engines.gop.phone_loop import LoopSegment
from training.gop_norms import MIN_COUNT

NORMS = {"K": (-1.0, 0.5), "W": (-0.2, 0.1)}


def _phone(phone: str, score: float, duration: int) -> PhoneEvidence:
    return PhoneEvidence(0, phone, 0, duration, score, phone, score, 0.0)


def test_a_phones_log_posterior_is_measured_against_its_own_norm() -> None:
    z = lpp_z([_phone("K", -3.0, 2), _phone("W", -0.2, 4), _phone("TH", -9.0, 3)], NORMS)
    assert z.tolist() == pytest.approx([-1.0, 1.5, 0.0])  # TH has no norm: no evidence either way


@given(st.lists(st.tuples(st.sampled_from(["K", "W"]), st.floats(-20, 0), st.integers(0, 40)), min_size=1, max_size=30))
def test_the_utterance_features_summarise_the_z_scores(phones: list[tuple[str, float, int]]) -> None:
    evidence = [_phone(p, score, duration) for p, score, duration in phones]
    found = utterance_norm_features(evidence, NORMS)
    z = lpp_z(evidence, NORMS)
    assert set(found) == set(UTTERANCE_NORM_FEATURES)
    assert found["lpp_z_mean"] == pytest.approx(z.mean())
    assert z.min() - 1e-9 <= found["lpp_z_p10"] <= np.median(z) + 1e-9


def _neural_analysis() -> Analysis:
    """One word, "WE CALL" as five phones of 8 frames each, every phone heard as itself."""
    phones = [AlignedPhone(0, p, 10 + 8 * i, 8, -8) for i, p in enumerate(("W", "IY", "K", "AO", "L"))]
    loop = [LoopSegment(p.phone, p.start, p.start + 7, 0.0) for p in phones]
    evidence = [PhoneEvidence(0, p.phone, p.start, 8, -8.0, p.phone, -8.0, 0.0) for p in phones]
    alignment = ForcedAlignment([AlignedWord(0, "WE", 10, 40)], phones, 50)
    return Analysis([], alignment, evidence, loop, 1.0, "forced", scale=NEURAL_SCALE)


def test_norms_add_their_features_at_every_level_only_when_given() -> None:
    plain = features(_neural_analysis(), {})
    normed = features(_neural_analysis(), {}, {"W": (-1.0, 1.0), "K": (-3.0, 1.0)})
    assert not set(UTTERANCE_NORM_FEATURES) & set(plain.utterance)
    assert set(UTTERANCE_NORM_FEATURES) <= set(normed.utterance)
    assert set(WORD_NORM_FEATURES) <= set(normed.words[0])
    assert normed.words[0]["lpp_z_min"] == pytest.approx(0.0) and normed.utterance["lpp_z_mean"] == pytest.approx(0.4)


def test_the_shipped_norms_come_from_other_speakers_for_the_shipped_classifier() -> None:
    norms = shipped_phone_norms()
    phones = set(PHONE_CLASSES) - {SILENCE}
    assert len(set(norms) & phones) >= 37 and set(norms) <= phones
    assert all(std > 0 for _, std in norms.values())
    body = json.loads(resources.files("engines.gop").joinpath("data/phone-norms.json").read_text())
    assert min(body["counts"].values()) >= MIN_COUNT
    trained = body["trained_on"]
    assert trained["split"] == "train" and "speechocean762-sample" in trained["excluded_speakers_of"]
    assert load_classifier().sha256[:12] in trained["front_end"]
