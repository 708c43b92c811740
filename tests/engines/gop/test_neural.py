"""The neural front end's parts on data made here: the classifier file, GOP-NN evidence, the
encoder's weights check, and the engine's fallback to PocketSphinx alone."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engines.gop.aligner import AlignedPhone
from engines.gop.engine import GopConfig, GopEngine, front_end
from engines.gop.neural.classes import PHONE_CLASSES, SILENCE
from engines.gop.neural.classifier import ClassifierError, PhoneClassifier, load_classifier
from engines.gop.neural.encoder import HUB_ID, FrontEndUnavailable, checked_files, locate, log_mel
from engines.gop.neural.evidence import neural_evidence

CLASSES = len(PHONE_CLASSES)


def _classifier(hidden: int = 8, seed: int = 0) -> PhoneClassifier:
    rng = np.random.default_rng(seed)
    layers = (
        (rng.normal(size=(6, hidden)), rng.normal(size=hidden)),
        (rng.normal(size=(hidden, CLASSES)), np.zeros(CLASSES)),
    )
    return PhoneClassifier(np.zeros(6), np.ones(6), layers, {}, "")


def _saved(classifier: PhoneClassifier, folder: Path, **manifest: object) -> Path:
    data = classifier.to_npz()
    body = {"classes": list(PHONE_CLASSES), "sha256": hashlib.sha256(data).hexdigest(), **manifest}
    (folder / "phone-classifier.npz").write_bytes(data)
    (folder / "phone-classifier.json").write_text(json.dumps(body))
    return folder


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (5, 6), elements=st.floats(-1e3, 1e3)))
def test_posteriors_are_a_distribution_over_the_phone_classes_for_any_state(states: np.ndarray) -> None:
    logp = _classifier().log_posteriors(states)
    assert logp.shape == (5, CLASSES) and np.isfinite(logp).all()
    assert np.allclose(np.exp(logp).sum(axis=1), 1.0)


def test_a_classifier_round_trips_through_its_files(tmp_path: Path) -> None:
    original = _classifier()
    loaded = load_classifier(_saved(original, tmp_path))
    states = np.random.default_rng(1).normal(size=(4, 6))
    # stored in float16: well under 1 MB for the shipped size, and equal to a few thousandths
    assert np.allclose(loaded.log_posteriors(states), original.log_posteriors(states), atol=0.05)


def test_weights_that_are_not_the_ones_the_manifest_names_are_refused(tmp_path: Path) -> None:
    _saved(_classifier(), tmp_path)
    (tmp_path / "phone-classifier.npz").write_bytes(_classifier(seed=2).to_npz())
    with pytest.raises(ClassifierError, match="not the ones its manifest names"):
        load_classifier(tmp_path)


def test_a_classifier_of_another_phone_set_is_refused(tmp_path: Path) -> None:
    _saved(_classifier(), tmp_path)
    manifest = json.loads((tmp_path / "phone-classifier.json").read_text())
    (tmp_path / "phone-classifier.json").write_text(json.dumps({**manifest, "classes": ["AA", "SIL"]}))
    with pytest.raises(ClassifierError, match="another phone set"):
        load_classifier(tmp_path)


def _posteriors(best_per_frame: list[str], margin: float = 3.0) -> np.ndarray:
    logp = np.full((len(best_per_frame), CLASSES), -margin)
    for frame, phone in enumerate(best_per_frame):
        logp[frame, PHONE_CLASSES.index(phone)] = 0.0
    return logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))


def test_a_phone_the_posteriors_favour_has_gop_zero_and_itself_as_competitor() -> None:
    # K over 10 ms frames 0-5 (20 ms frames 0-2), AE over 6-11 (frames 3-5)
    phones = [AlignedPhone(0, "K", 0, 6, 0), AlignedPhone(0, "AE", 6, 6, 0)]
    found = neural_evidence(phones, _posteriors(["K", "K", "K", "EH", "EH", "EH"]))
    assert found[0].gop == pytest.approx(0.0) and found[0].competitor == "K"
    assert found[1].gop == pytest.approx(-3.0) and found[1].competitor == "EH" and found[1].competitor_wins


def test_silence_where_a_phone_was_placed_is_silence_heard() -> None:
    [found] = neural_evidence([AlignedPhone(0, "T", 0, 4, 0)], _posteriors([SILENCE, SILENCE]))
    assert found.competitor == SILENCE and found.gop < 0


@given(st.integers(0, 400), st.integers(0, 40), st.integers(1, 200))
def test_every_aligned_phone_gets_evidence_whatever_its_frames(start: int, duration: int, frames: int) -> None:
    """Even a phone past the encoder's last frame, or of no duration, is scored on one frame."""
    [found] = neural_evidence([AlignedPhone(0, "AA", start, duration, 0)], _posteriors(["AA"] * frames))
    assert found.gop == pytest.approx(0.0) and np.isfinite(found.score)


def test_a_folder_without_weights_or_with_other_weights_is_named(tmp_path: Path) -> None:
    with pytest.raises(FrontEndUnavailable, match=r"no model\.bin"):
        checked_files(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"not tiny.en")
    with pytest.raises(FrontEndUnavailable, match=r"not the tiny\.en weights"):
        checked_files(tmp_path)


def test_a_model_setting_that_is_neither_a_folder_nor_the_hub_id_is_named(tmp_path: Path) -> None:
    with pytest.raises(FrontEndUnavailable, match=f"neither a folder nor {re.escape(HUB_ID)}"):
        locate(str(tmp_path / "absent"))


def test_without_the_weights_auto_runs_pocketsphinx_alone_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"other weights")
    config = GopConfig(frontend="auto", frontend_model=str(tmp_path))
    assert front_end(config) is None
    engine = GopEngine(config)
    assert engine.version.base_model == "pocketsphinx/en-us" and engine.version.detail.method == "gop-v2"
    assert engine.analyser.front_end is None


def test_neural_without_the_weights_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    with pytest.raises(FrontEndUnavailable):
        GopEngine(GopConfig(frontend="neural", frontend_model=str(tmp_path)))


def test_pocketsphinx_chosen_never_loads_the_front_end() -> None:
    assert front_end(GopConfig(frontend="pocketsphinx")) is None


@settings(max_examples=10, deadline=None)
@given(st.integers(401, 48_000), st.integers(0, 2**32 - 1))
def test_log_mel_equals_whispers_feature_extractor(length: int, seed: int) -> None:
    from transformers import WhisperFeatureExtractor

    samples = (np.random.default_rng(seed).normal(size=length) * 0.1).astype(np.float32)
    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=16_000)
    expected = extractor(samples, sampling_rate=16_000, padding="longest", return_tensors="np")["input_features"][0]
    found = log_mel(samples, extractor.mel_filters.astype(np.float32))
    assert found.shape == expected.shape and np.abs(found - expected).max() < 1e-3
