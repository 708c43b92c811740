"""A batch's log-mel features are each recording's alone, zero-padded, for any combination of
lengths; and the audio encoder works in bounded sub-batches that give the same embeddings."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import Phi4MultimodalFeatureExtractor

from engines.phi4mm import audio_encoder
from engines.phi4mm.audio_encoder import sub_batches
from engines.phi4mm.inputs import audio_embed_size, audio_embeddings, audio_features, recording_features
from engines.phi4mm.loading import ModelParts, load_parts
from scoring.audio import MIN_SAMPLES, SAMPLE_RATE

EXTRACTOR = SimpleNamespace(features=Phi4MultimodalFeatureExtractor())


def _noise(length: int) -> np.ndarray:
    return (np.random.default_rng(length).standard_normal(length) * 0.1).astype(np.float32)


def _alone(samples: np.ndarray) -> torch.Tensor:
    out = EXTRACTOR.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    return out["audio_input_features"][0]


def test_the_batch_the_batched_extractor_broke_on() -> None:
    """A shorter row ending 20 samples before the longest, in its 10 ms hop, with a third row."""
    samples = [_noise(n) for n in (48000, 64010, 64030)]
    batch = audio_features(EXTRACTOR, samples)
    for row, one in enumerate(samples):
        alone = _alone(one)
        assert batch.frame_lengths[row] == alone.shape[0]
        assert torch.equal(batch.features[row, : alone.shape[0]], alone)
        assert not batch.features[row, alone.shape[0] :].any(), "padding is zeros"


@settings(max_examples=40, deadline=None)
@given(
    anchor=st.integers(MIN_SAMPLES, 4 * SAMPLE_RATE),
    offsets=st.lists(st.integers(-3000, 80), min_size=1, max_size=6),
)
def test_each_row_is_the_recording_alone_bit_for_bit(anchor: int, offsets: list[int]) -> None:
    lengths = [max(MIN_SAMPLES, anchor + offset) for offset in offsets]
    samples = [_noise(n) for n in lengths]
    batch = audio_features(EXTRACTOR, samples)
    assert batch.features.shape[:2] == (len(samples), max(batch.frame_lengths))
    for row, one in enumerate(samples):
        alone = _alone(one)
        assert torch.equal(batch.features[row, : alone.shape[0]], alone)
        assert batch.embed_sizes[row] == audio_embed_size(EXTRACTOR, len(one))


def test_the_shortest_accepted_recording_has_an_audio_token() -> None:
    features = recording_features(EXTRACTOR, _noise(MIN_SAMPLES))
    assert features.features.shape[0] == 1 and features.embed_size == 1


def test_a_recording_without_a_feature_frame_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="no feature frame"):
        recording_features(EXTRACTOR, _noise(MIN_SAMPLES - 1))


@given(st.lists(st.integers(1, 4000), max_size=80), st.integers(1, 20_000))
def test_sub_batches_cover_every_row_once_within_the_bound(lengths: list[int], bound: int) -> None:
    groups = sub_batches(lengths, bound)
    assert sorted(row for group in groups for row in group) == list(range(len(lengths)))
    for group in groups:
        assert len(group) == 1 or len(group) * max(lengths[row] for row in group) <= bound
    order = [lengths[row] for group in groups for row in group]
    assert order == sorted(order), "shortest first, so each group pads little"


@pytest.fixture(scope="module")
def parts(untaught_model: Path) -> ModelParts:
    return load_parts(str(untaught_model), None, torch.device("cpu"), torch.float32)


def test_the_encoder_in_small_sub_batches_gives_the_same_embeddings(
    parts: ModelParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = [_noise(n) for n in (16000, 64010, 24000, 64030, 800, 40000)]
    features = audio_features(parts, samples)
    whole = audio_embeddings(parts, features)
    calls: list[int] = []
    encode_frames = audio_encoder.encode_frames
    monkeypatch.setattr(
        audio_encoder, "encode_frames", lambda e, f, n: calls.append(f.shape[0] * f.shape[1]) or encode_frames(e, f, n)
    )
    bound = 2 * max(features.frame_lengths)
    embedding = parts.model.model.embed_tokens_extend.audio_embed
    split = audio_encoder.encode_audio(
        embedding, features.features, features.frame_lengths, features.embed_sizes, row_frames=bound
    )
    assert len(calls) > 1 and max(calls) <= bound
    for row, (a, b) in enumerate(zip(whole, split, strict=True)):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() < 1e-5, f"row {row}"
