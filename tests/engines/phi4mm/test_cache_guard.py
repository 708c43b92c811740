"""The fast loop's shared key/value cache stays finite, and start-up keeps only batch sizes a
real context fits, on the tiny checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from engines.phi4mm import engine as engine_module
from scoring.audio import decode
from tests.conftest import sample_wav


def _items(indices: list[int]) -> list[ScoringItem]:
    return [ScoringItem(decode(sample_wav(i)[0].read_bytes(), 40), sample_wav(i)[1]) for i in indices]


@pytest.fixture(scope="module")
def pair(untaught_model: Path) -> tuple[Phi4Engine, Phi4Engine]:
    """A fast-loop engine and a `generate` engine of the untaught checkpoint (whose answers vary with the input)."""
    return (
        Phi4Engine(Phi4Config(model=str(untaught_model), batch_sizes=(1, 2, 4))),
        Phi4Engine(Phi4Config(model=str(untaught_model), decode_loop="generate")),
    )


def _cache_is_finite(engine: Phi4Engine) -> bool:
    assert engine.decoder is not None
    return all(
        bool(torch.isfinite(tensor).all())
        for rows in engine.decoder.rows.values()
        for tensor in (*rows.keys, *rows.values)
    )


def test_a_nan_in_one_recording_never_reaches_the_cache_or_its_batch_mates(
    pair: tuple[Phi4Engine, Phi4Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, reference = pair
    poisoned, *clean = _items([0, 7, 14])
    embeddings = engine_module.audio_embeddings

    def with_nan(parts, features):
        audio = embeddings(parts, features)
        for row, frames in enumerate(features.frame_lengths):
            if frames == (len(poisoned.samples) - 400) // 160 + 1:
                audio[row] = torch.full_like(audio[row], float("nan"))
        return audio

    monkeypatch.setattr(engine_module, "audio_embeddings", with_nan)
    outputs, _ = fast.generate([poisoned, *clean])
    monkeypatch.undo()
    assert _cache_is_finite(fast), "a NaN written in prefill stays in the shared cache"
    assert outputs[1:] == reference.generate(clean)[0], "the other rows answer as the reference does"
    later = _items([21, 28, 35])
    assert fast.generate(later)[0] == reference.generate(later)[0], "a later batch is not poisoned"


def test_batch_sizes_no_context_fits_are_dropped_with_one_warning(
    untaught_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="engines.phi4mm.engine"):
        engine = Phi4Engine(Phi4Config(model=str(untaught_model), batch_sizes=(1, 2, 64), cache_tokens=64 * 64))
    assert engine._shortest_context() > 64, "the tiny checkpoint's shortest context must exceed 64 rows' share"
    assert engine.plan.batch_sizes == (1, 2)
    assert all(size != 64 for size, _ in engine.plan.shapes()), "nothing is warmed up for the dropped size"
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1 and "batch sizes 64 dropped" in warnings[0]
    assert engine.score(_items([0]))[0] is not None


def test_a_cache_no_batch_size_fits_is_refused_at_start(untaught_model: Path) -> None:
    with pytest.raises(ValueError, match="room for a context"):
        Phi4Engine(Phi4Config(model=str(untaught_model), batch_sizes=(64,), cache_tokens=64 * 64))
