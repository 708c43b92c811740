"""Batched audio encoding equals each recording's encoding alone, on the tiny checkpoint in float32."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engines.phi4mm.audio_encoder import ENCODER_CHUNK_FRAMES, encode_audio
from engines.phi4mm.inputs import audio_embed_size, audio_embeddings, audio_features
from engines.phi4mm.loading import ModelParts, load_parts
from scoring.audio import SAMPLE_RATE, decode
from tests.conftest import sample_wav


@pytest.fixture(scope="module")
def parts(untaught_model: Path) -> ModelParts:
    return load_parts(str(untaught_model), None, torch.device("cpu"), torch.float32)


def _samples(indices: list[int]) -> list[np.ndarray]:
    return [decode(sample_wav(index)[0].read_bytes(), 40) for index in indices]


def _frames(samples: np.ndarray, frames: int) -> np.ndarray:
    """`samples` cut to give exactly `frames` feature frames (25 ms windows every 10 ms)."""
    return samples[: (frames - 1) * 160 + 400]


def _alone(parts: ModelParts, samples: np.ndarray) -> torch.Tensor:
    """The native encoder and projection on one recording, unpadded."""
    features = parts.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    audio = parts.model.model.embed_tokens_extend.audio_embed
    with torch.inference_mode():
        hidden = audio.encoder(features["audio_input_features"], None)
        projected = audio.down_proj_for_speech(torch.nn.functional.gelu(audio.up_proj_for_speech(hidden)))
    return projected[0, : int(features["audio_embed_sizes"][0])]


def test_batched_embeddings_equal_each_recording_alone(parts: ModelParts) -> None:
    long, short = _samples([3, 21])
    # Cuts whose lengths are odd after each stride-2 stage, where a padded batch-mate's frames leak.
    samples = [long, short, *(_frames(long, frames) for frames in (301, 302, 303, 305, 313))]
    lengths = [len(s) for s in samples]
    assert len(set(lengths)) == len(lengths), "the batch needs recordings of different lengths"
    batched = audio_embeddings(parts, audio_features(parts, samples))
    for row, one in enumerate(samples):
        alone = _alone(parts, one)
        assert batched[row].shape == alone.shape
        assert (batched[row] - alone).abs().max().item() < 1e-5, f"row {row} ({len(one) / SAMPLE_RATE:.2f} s)"
    assert any(min(lengths) < length < max(lengths) for length in lengths), "a row with longer and shorter mates"


def test_the_native_encoder_lets_padding_leak_into_shorter_rows(parts: ModelParts) -> None:
    """What the override fixes: the same batch through the native encoder moves the shorter row."""
    samples = _samples([3, 0])
    shorter = int(np.argmin([len(s) for s in samples]))
    features = parts.features(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt")
    audio = parts.model.model.embed_tokens_extend.audio_embed
    with torch.inference_mode():
        hidden = audio.encoder(features["audio_input_features"], features["audio_attention_mask"])
        native = audio.down_proj_for_speech(torch.nn.functional.gelu(audio.up_proj_for_speech(hidden)))
    alone = _alone(parts, samples[shorter])
    assert (native[shorter, : alone.shape[0]] - alone).abs().max().item() > 1e-3


def test_one_recording_is_bit_identical_to_the_native_encoder(parts: ModelParts) -> None:
    (samples,) = _samples([7])
    features = audio_features(parts, [samples])
    audio = parts.model.model.embed_tokens_extend.audio_embed
    (ours,) = encode_audio(audio, features.features, features.frame_lengths, features.embed_sizes)
    assert torch.equal(ours, _alone(parts, samples))


def test_a_recording_over_the_encoder_chunk_is_encoded_alone_beside_short_ones(parts: ModelParts) -> None:
    rng = np.random.default_rng(0)
    frames = ENCODER_CHUNK_FRAMES * 8 + 80  # past one chunk of subsampled frames, so the native forward unfolds
    long = (rng.standard_normal(frames * 160 + 240) * 0.1).astype(np.float32)
    samples = [*_samples([0]), long]
    batched = audio_embeddings(parts, audio_features(parts, samples))
    for row, one in enumerate(samples):
        assert (batched[row] - _alone(parts, one)).abs().max().item() < 1e-5
    assert batched[1].shape[0] == audio_embed_size(parts, len(long)) > ENCODER_CHUNK_FRAMES


def test_audio_embed_size_is_what_the_feature_extractor_reports(parts: ModelParts) -> None:
    for seconds in (0.5, 1.0, 2.37, 6.0, 9.99):
        count = int(seconds * SAMPLE_RATE)
        features = parts.features([np.zeros(count, dtype=np.float32)], sampling_rate=SAMPLE_RATE, return_tensors="pt")
        assert audio_embed_size(parts, count) == int(features["audio_embed_sizes"][0])


def test_without_zeroing_past_each_row_the_subsampling_leaks(parts: ModelParts, monkeypatch) -> None:
    """The masked attention alone is not enough: the convolutions must read zeros past a row's end."""
    from engines.phi4mm import audio_encoder

    (long,) = _samples([3])
    samples, shorter = [long, _frames(long, 301)], 1
    # The tiny checkpoint's input norm is the identity and its convolution biases are zero, so
    # zero-padded features would stay zero through the convolutions; real statistics and biases
    # make the padding non-zero, as the model's are.
    encoder = parts.model.model.embed_tokens_extend.audio_embed.encoder
    monkeypatch.setattr(
        encoder.encoder_embedding, "global_mean", torch.full_like(encoder.encoder_embedding.global_mean, 10.0)
    )
    for layer in encoder.embed.conv:
        if isinstance(layer, torch.nn.Conv2d):
            monkeypatch.setattr(layer, "bias", torch.nn.Parameter(torch.full_like(layer.bias, 1.0)))
    alone = _alone(parts, samples[shorter])
    zeroed = (audio_embeddings(parts, audio_features(parts, samples))[shorter] - alone).abs().max().item()
    monkeypatch.setattr(audio_encoder, "_zero_past", lambda hidden, lengths: hidden)
    leaked = (audio_embeddings(parts, audio_features(parts, samples))[shorter] - alone).abs().max().item()
    assert leaked > 1e-7 and leaked > 20 * zeroed, (leaked, zeroed)
