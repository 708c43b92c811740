"""The fast decode loop against transformers' generate, its shapes, and its stop rule, on the tiny checkpoint."""

from pathlib import Path

import pytest
import torch

from engines import ScoringItem, score_in_chunks
from engines.phi4mm import Phi4Config, Phi4Engine
from scoring.audio import decode
from tests.conftest import sample_wav

SMALL = {"batch_sizes": (1, 2, 4, 8), "cache_tokens": 8 * 512}


def _items(indices: list[int]) -> list[ScoringItem]:
    items = []
    for index in indices:
        path, text = sample_wav(index)
        items.append(ScoringItem(decode(path.read_bytes(), 40), text))
    return items


@pytest.fixture(scope="module")
def engines(tiny_model: Path, untaught_model: Path) -> dict[str, tuple[Phi4Engine, Phi4Engine]]:
    """A fast-loop engine and a `generate` engine of each checkpoint."""
    return {
        name: (
            Phi4Engine(Phi4Config(model=str(path), **SMALL)),
            Phi4Engine(Phi4Config(model=str(path), decode_loop="generate")),
        )
        for name, path in (("taught", tiny_model), ("untaught", untaught_model))
    }


@pytest.mark.parametrize("checkpoint", ["taught", "untaught"])
def test_the_fast_loop_gives_the_tokens_of_generate(engines, checkpoint: str) -> None:
    fast, reference = engines[checkpoint]
    items = _items([0, 7, 14, 21, 28])
    assert fast.generate(items)[0] == reference.generate(items)[0]
    assert fast.decoder is not None and fast.decoder.shapes_run, "the fast loop must have run"
    assert reference.decoder is None


def test_taught_answers_end_at_their_closing_brace(engines) -> None:
    fast, _ = engines["taught"]
    outputs, _ = fast.generate(_items([0, 7]))
    for (answer,) in outputs:
        assert answer.startswith("{") and answer.endswith("}"), answer


def test_the_fast_loop_stops_like_the_stop_rule_token_by_token(engines) -> None:
    """The device-side rule (end tokens, the closing brace, the budget) is the host-side one."""
    fast, _ = engines["untaught"]
    decoder = fast.decoder
    tokenizer = fast.parts.tokenizer
    vocab = tokenizer.get_vocab()
    opening = next(i for t, i in vocab.items() if t.count("{") == 1 and "}" not in t)
    closing = next(i for t, i in vocab.items() if t.count("}") == 1 and "{" not in t)
    plain = tokenizer.convert_tokens_to_ids("W")
    end = tokenizer.convert_tokens_to_ids("<|end|>")
    cases = [
        ([plain, opening, plain, opening, closing, plain, closing, plain], 8, True),
        ([closing, opening, plain, closing, plain], 5, True),
        ([opening, plain, closing, plain, plain], 5, False),
        ([plain, plain, end, plain], 4, True),
        ([opening, plain, plain, plain], 3, True),
    ]
    rows = decoder.rows[1]
    with torch.inference_mode():
        for tokens, budget, braces in cases:
            rows.start(int(decoder.pad), 1, [1], [budget], braces)
            for token in tokens:
                decoder._advance(rows, torch.tensor([token]))
            kept = rows.tokens[0, : int(rows.lengths[0])].tolist()
            assert kept == fast.stop.answer(tokens, budget, braces), (tokens, budget, braces)


def test_real_length_variety_needs_no_shape_beyond_the_warm_up(engines) -> None:
    fast, _ = engines["untaught"]
    decoder = fast.decoder
    warmed = set(decoder.steps)
    decoder.shapes_run.clear()
    items = _items(list(range(0, 144, 9)))
    assert len({round(item.seconds, 1) for item in items}) > 10
    score_in_chunks(fast, items, chunk_seconds=30.0)
    assert set(decoder.shapes_run) <= warmed
    assert len({rows for rows, _ in decoder.shapes_run}) > 1 and len({w for _, w in decoder.shapes_run}) > 1


def test_the_cache_starts_clean_whatever_memory_it_is_given(engines, untaught_model: Path, monkeypatch) -> None:
    """Slots past a row's end are masked, but a masked NaN still poisons attention: the cache the
    decoder reserves must not depend on what its memory held before."""
    empty = torch.empty

    def garbage(*args, **kwargs) -> torch.Tensor:
        tensor = empty(*args, **kwargs)
        return tensor.fill_(float("nan")) if tensor.is_floating_point() else tensor

    monkeypatch.setattr(torch, "empty", garbage)
    fast = Phi4Engine(Phi4Config(model=str(untaught_model), **SMALL))
    monkeypatch.undo()
    _, reference = engines["untaught"]
    items = _items([3, 10])
    assert fast.generate(items)[0] == reference.generate(items)[0]


def test_a_shape_that_was_not_warmed_up_is_refused(untaught_model: Path) -> None:
    engine = Phi4Engine(Phi4Config(model=str(untaught_model), **SMALL))
    engine.decoder.steps.clear()
    with pytest.raises(RuntimeError, match="not warmed up"):
        engine.generate(_items([0]))


def test_rows_too_long_for_the_cache_are_decoded_by_generate(engines, untaught_model: Path) -> None:
    _, reference = engines["untaught"]
    cramped = Phi4Engine(Phi4Config(model=str(untaught_model), batch_sizes=(1,), cache_tokens=128))
    items = _items([0, 7])
    assert cramped.generate(items)[0] == reference.generate(items)[0]
    assert not cramped.decoder.shapes_run


def test_paper_format_encodes_audio_once_for_both_turns(untaught_model: Path, monkeypatch) -> None:
    from engines.phi4mm import engine as engine_module

    fast = Phi4Engine(Phi4Config(model=str(untaught_model), task_format="paper", **SMALL))
    reference = Phi4Engine(Phi4Config(model=str(untaught_model), task_format="paper", decode_loop="generate"))
    calls = []
    real = engine_module.audio_embeddings
    monkeypatch.setattr(engine_module, "audio_embeddings", lambda parts, audio: calls.append(1) or real(parts, audio))
    items = _items([0, 7, 14])
    outputs, _ = fast.generate(items)
    assert len(calls) == 1, "one encoder call for the batch, shared by both prompts"
    assert [len(o) for o in outputs] == [2, 2, 2]
    assert outputs == reference.generate(items)[0]
