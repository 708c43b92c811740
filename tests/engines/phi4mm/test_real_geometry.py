"""Full-size behaviour on a CPU: the encoder's batches, the fast loop against `generate` and
batch invariance, on the scaled real architecture (tests/engines/phi4mm/conftest.py), in float32
and in bfloat16 under `engines.phi4mm.comparison`'s rule."""

import numpy as np
import pytest
import torch

from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from engines.phi4mm import audio_encoder as audio_encoder_module
from engines.phi4mm.audio_encoder import encode_audio
from engines.phi4mm.comparison import CappedTask, LogitRecorder, compare_rows, generate_with_logits
from engines.phi4mm.loading import ModelParts
from scoring.audio import SAMPLE_RATE, decode
from tests.conftest import sample_wav

DTYPES = [torch.float32, torch.bfloat16]
STEPS = 16


def _samples(indices: list[int]) -> list[np.ndarray]:
    return [decode(sample_wav(index)[0].read_bytes(), 40) for index in indices]


def _items(indices: list[int]) -> list[ScoringItem]:
    """Sample recordings, shortest first (the order the engine decodes a batch in)."""
    items = [
        ScoringItem(samples, sample_wav(index)[1]) for samples, index in zip(_samples(indices), indices, strict=True)
    ]
    return sorted(items, key=lambda item: len(item.samples))


def _features(parts: ModelParts, samples: list[np.ndarray]) -> tuple[torch.Tensor, list[int], list[int]]:
    """Each recording's features extracted alone, zero-padded into one batch: padding is then
    exactly zero, so only the encoder can leak it into a shorter row."""
    alone = [parts.features([one], sampling_rate=SAMPLE_RATE, return_tensors="pt") for one in samples]
    rows = [out["audio_input_features"][0] for out in alone]
    padded = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
    return padded, [row.shape[0] for row in rows], [int(out["audio_embed_sizes"][0]) for out in alone]


def _native_alone(parts: ModelParts, samples: np.ndarray) -> torch.Tensor:
    """transformers' own encoder and projection on one recording, unpadded."""
    features = parts.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    audio = parts.model.model.embed_tokens_extend.audio_embed
    with torch.inference_mode():
        hidden = audio.encoder(features["audio_input_features"].to(audio.up_proj_for_speech.bias.dtype), None)
        projected = audio.down_proj_for_speech(torch.nn.functional.gelu(audio.up_proj_for_speech(hidden)))
    return projected[0, : int(features["audio_embed_sizes"][0])].float()


def _leak_batch() -> list[np.ndarray]:
    """Rows whose lengths are odd after each stride-2 stage, two longest 1 and 79 samples apart."""
    (long,) = _samples([3])
    cuts = [(frames - 1) * 160 + 400 for frames in (301, 302, 303, 305, 313)]
    return [long, long[:-1], long[:-79], *(long[:cut] for cut in cuts)]


def _worst_relative_difference(parts: ModelParts, samples: list[np.ndarray]) -> float:
    audio = parts.model.model.embed_tokens_extend.audio_embed
    batched = encode_audio(audio, *_features(parts, samples))
    worst = 0.0
    for row, one in zip(batched, samples, strict=True):
        alone = _native_alone(parts, one)
        assert row.shape == alone.shape
        worst = max(worst, ((row.float() - alone).abs().max() / alone.abs().max()).item())
    return worst


# Relative to a row's largest |value|: float32 rounding through a batch, and about 2 bf16 ulps.
ENCODER_TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_batched_audio_encoding_equals_each_recording_alone(real_geometry, dtype: torch.dtype) -> None:
    assert _worst_relative_difference(real_geometry[dtype], _leak_batch()) < ENCODER_TOLERANCE[dtype]


def test_the_encoder_test_sees_padding_leak_through_subsampling(real_geometry, monkeypatch) -> None:
    """With the encoder's zeroing past each row's end taken out, the same comparison fails: the
    trained statistics turn zero padding into non-zero frames that the convolutions carry over."""
    monkeypatch.setattr(audio_encoder_module, "_zero_past", lambda hidden, lengths: hidden)
    leak = _worst_relative_difference(real_geometry[torch.float32], _leak_batch())
    assert leak > 100 * ENCODER_TOLERANCE[torch.float32]


def _engine(parts: ModelParts, dtype: torch.dtype) -> Phi4Engine:
    config = Phi4Config(
        model="random-weights",
        device="cpu",
        dtype=str(dtype).removeprefix("torch."),
        batch_sizes=(1, 2, 4, 8),
        cache_tokens=8 * 512,
    )
    engine = Phi4Engine(config, parts=parts)
    engine.task = CappedTask(engine.task, STEPS)
    return engine


@pytest.fixture(scope="module")
def engines(real_geometry) -> dict[torch.dtype, Phi4Engine]:
    return {dtype: _engine(real_geometry[dtype], dtype) for dtype in DTYPES}


def _decoded(engine: Phi4Engine, items: list[ScoringItem]) -> LogitRecorder:
    recorder = LogitRecorder()
    with recorder.recording(engine.decoder):
        engine.generate(items)
    return recorder


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_the_fast_loop_agrees_with_generate_at_the_real_geometry(engines, dtype: torch.dtype) -> None:
    engine = engines[dtype]
    (call,) = _decoded(engine, _items([0, 7, 14, 21, 28])).calls
    assert len(set(call.lengths)) > 1, "left padding must be exercised"
    tokens, logits = generate_with_logits(engine.parts, call, engine.stop)
    for row, (expected, expected_logits) in enumerate(zip(tokens, logits, strict=True)):
        agreement = compare_rows(expected, expected_logits, call.tokens[row], call.row(row), dtype)
        assert agreement.agrees, (row, agreement)
        if dtype == torch.float32:
            assert agreement.identical_tokens and agreement.max_logit_difference < 1e-4, (row, agreement)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_a_recording_decodes_in_a_batch_as_it_does_alone(engines, dtype: torch.dtype) -> None:
    engine = engines[dtype]
    items = _items([2, 9, 16, 23])
    assert len({len(item.samples) for item in items}) == len(items), "distinct lengths: rows are padded"
    (batched,) = _decoded(engine, items).calls
    first = torch.stack([batched.row(row)[0] for row in range(len(items))])
    assert (first - first[0]).abs().max() > 1e-2, "the logits must depend on each row's audio"
    for row, item in enumerate(items):
        (alone,) = _decoded(engine, [item]).calls
        agreement = compare_rows(alone.tokens[0], alone.row(0), batched.tokens[row], batched.row(row), dtype)
        assert agreement.agrees, (row, agreement)
        if dtype == torch.float32:
            assert agreement.identical_tokens, (row, agreement)


def test_the_bf16_rule_refuses_a_difference_that_is_not_a_near_tie() -> None:
    """The rule can fail: a token that differs where the reference's top two logits are far apart."""
    reference = [torch.tensor([0.0, 8.0, 1.0]), torch.tensor([5.0, 0.0, 0.0])]
    agreement = compare_rows([1, 0], reference, [2, 0], reference, torch.bfloat16)
    assert not agreement.agrees and agreement.first_difference == 0 and not agreement.near_tie
    tied = [torch.tensor([0.0, 8.0, 7.99]), torch.tensor([5.0, 0.0, 0.0])]
    assert compare_rows([1, 0], tied, [2, 1], tied, torch.bfloat16).agrees, "a near tie may flip"
    moved = [reference[0] + torch.tensor([0.0, 0.5, 0.0]), reference[1]]
    assert not compare_rows([1, 0], reference, [1, 0], moved, torch.bfloat16).agrees, "logits past tolerance"


def test_a_prefill_cut_into_chunks_is_recorded_as_one_step(engines, monkeypatch) -> None:
    from engines.phi4mm import decoding

    monkeypatch.setattr(decoding, "PREFILL_TOKENS", 64)  # one or two rows a prefill chunk
    engine = engines[torch.float32]
    (call,) = _decoded(engine, _items([1, 8, 15])).calls
    assert all(step.shape[0] >= len(call.lengths) for step in call.logits)
    tokens, logits = generate_with_logits(engine.parts, call, engine.stop)
    for row in range(len(tokens)):
        assert compare_rows(tokens[row], logits[row], call.tokens[row], call.row(row), torch.float32).identical_tokens


def test_the_rule_holds_each_step_to_its_own_tolerance() -> None:
    """A difference allowed at a step of large logits is not allowed at a step of small ones."""
    reference = [torch.tensor([0.0, 64.0, 1.0]), torch.tensor([0.0, 2.0, 1.0])]
    shifted = [reference[0], reference[1] + torch.tensor([0.0, 0.5, 0.0])]  # 0.5 < 4 × 2^-8 × 64 = 1.0
    agreement = compare_rows([1, 1], reference, [1, 1], shifted, torch.bfloat16)
    assert agreement.max_logit_difference < agreement.max_tolerance and not agreement.agrees
