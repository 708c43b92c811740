"""The engine on the tiny checkpoint, through the same loading and generation code as the real model."""

from pathlib import Path

import pytest
import torch
from peft import get_peft_model
from transformers import Phi4MultimodalForCausalLM

from scoring.audio import decode
from tests.conftest import sample_wav
from training.tiny import speech_lora_config
from worker.engine.phi4mm import EngineConfig, Phi4Engine, ScoringItem


def _items(count: int) -> list[ScoringItem]:
    items = []
    for index in range(count):
        path, text = sample_wav(index * 7)
        items.append(ScoringItem(decode(path.read_bytes(), 40), text))
    return items


@pytest.fixture(scope="module")
def untaught(untaught_model: Path) -> Phi4Engine:
    return Phi4Engine(EngineConfig(model=str(untaught_model), batch_audio_seconds=1000))


def test_loads_from_disk_and_records_its_version(tiny_model: Path) -> None:
    engine = Phi4Engine(EngineConfig(model=str(tiny_model)))
    assert engine.meaningless
    assert engine.version.task_format == "joint-v1"
    assert engine.version.adapter_sha256 is None
    assert engine.version.name == f"{tiny_model.name}+speech-lora/joint-v1"
    assert engine.dtype == torch.float32 and engine.device.type == "cpu"


def test_taught_tiny_model_gives_complete_meaningless_assessments(tiny_model: Path) -> None:
    engine = Phi4Engine(EngineConfig(model=str(tiny_model)))
    (assessment,) = engine.score(_items(1))
    body = assessment.to_dict()
    assert body["status"] == "scored", body
    assert set(body["scores"]) == {"accuracy", "fluency", "prosodic", "total"}
    assert body["meaningless"] is True
    assert body["words"] and all("ops" in word for word in body["words"])


def test_mixed_length_batch_equals_one_by_one_greedy(untaught: Phi4Engine) -> None:
    items = _items(4)
    assert len({round(item.seconds, 2) for item in items}) == 4, "need four different lengths"
    assert len(untaught.batches(items)) == 1
    batched, _ = untaught.generate(items)
    singles = [untaught.generate([item])[0][0] for item in items]
    assert batched == singles
    assert len({tuple(out) for out in batched}) > 1, "outputs must depend on the input for this test to bite"


def test_static_cache_gives_the_same_outputs(untaught_model: Path, untaught: Phi4Engine) -> None:
    static = Phi4Engine(EngineConfig(model=str(untaught_model), batch_audio_seconds=1000, static_cache=True))
    items = _items(3)
    assert static.generate(items)[0] == untaught.generate(items)[0]
    assert static.version.decoding["cache"] == "static"


def test_batches_follow_the_audio_budget(untaught_model: Path) -> None:
    engine = Phi4Engine(EngineConfig(model=str(untaught_model), batch_audio_seconds=6.0))
    items = _items(4)
    batches = engine.batches(items)
    for batch in batches:
        assert sum(items[i].seconds for i in batch) <= 6.0 or len(batch) == 1
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == [0, 1, 2, 3]
    assert [items[i].seconds for i in flat] == sorted(item.seconds for item in items)


def test_a_peft_adapter_loads_and_changes_outputs(untaught_model: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    base = Phi4MultimodalForCausalLM.from_pretrained(untaught_model)
    config = speech_lora_config()
    config.init_lora_weights = False  # random A and B, so the adapter is not the identity
    get_peft_model(base, config).save_pretrained(str(tmp_path / "adapter"))

    plain = Phi4Engine(EngineConfig(model=str(untaught_model)))
    adapted = Phi4Engine(EngineConfig(model=str(untaught_model), adapter=str(tmp_path / "adapter")))
    items = _items(2)
    assert adapted.generate(items)[0] != plain.generate(items)[0]
    assert adapted.version.adapter_sha256 and len(adapted.version.adapter_sha256) == 64
    assert adapted.version.adapter_sha256[:12] in adapted.version.name


def test_missing_adapter_is_a_clear_error(untaught_model: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no peft adapter"):
        Phi4Engine(EngineConfig(model=str(untaught_model), adapter=str(tmp_path)))


def test_unparseable_generation_is_a_failure_not_an_exception(untaught: Phi4Engine) -> None:
    assessments = untaught.score(_items(2))
    for assessment in assessments:
        assert not assessment.scored
        assert assessment.failure.startswith("missing ")
        body = assessment.to_dict()
        assert body["reason"] == "unparseable_output"
        assert body["raw_output"] == assessment.raw_output


def test_paper_format_runs_two_generations(untaught_model: Path) -> None:
    engine = Phi4Engine(EngineConfig(model=str(untaught_model), task_format="paper"))
    outputs, _ = engine.generate(_items(2))
    assert [len(o) for o in outputs] == [2, 2]


def test_out_of_memory_halves_the_batch_and_keeps_order(untaught: Phi4Engine, monkeypatch) -> None:
    real = untaught._generate
    sizes: list[int] = []

    def generate_or_oom(items, turn):
        sizes.append(len(items))
        if len(items) > 1:
            raise torch.OutOfMemoryError("simulated")
        return real(items, turn)

    items = _items(3)
    expected = [real([item], 0)[0] for item in items]
    monkeypatch.setattr(untaught, "_generate", generate_or_oom)
    assert untaught._generate_halving(items, 0) == expected
    assert sizes == [3, 1, 2, 1, 1]
