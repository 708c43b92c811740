"""The engine on the tiny checkpoint, through the same loading and generation code as the real model."""

from pathlib import Path

import pytest
import torch
from peft import get_peft_model
from transformers import Phi4MultimodalForCausalLM

from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from engines.phi4mm.lora import speech_lora_config
from scoring.audio import decode
from tests.conftest import sample_wav


def _items(count: int) -> list[ScoringItem]:
    items = []
    for index in range(count):
        path, text = sample_wav(index * 7)
        items.append(ScoringItem(decode(path.read_bytes(), 40), text))
    return items


@pytest.fixture(scope="module")
def untaught(untaught_model: Path) -> Phi4Engine:
    return Phi4Engine(Phi4Config(model=str(untaught_model)))


def test_loads_from_disk_and_records_its_version(tiny_model: Path) -> None:
    engine = Phi4Engine(Phi4Config(model=str(tiny_model)))
    assert engine.version.meaningless
    assert engine.version.detail.task_format == "joint-v1"
    assert engine.version.artifact_sha256 is None
    assert engine.version.name == f"{tiny_model.name}+speech-lora/joint-v1"
    assert engine.dtype == torch.float32 and engine.device.type == "cpu"


def test_taught_tiny_model_gives_complete_meaningless_assessments(tiny_model: Path) -> None:
    engine = Phi4Engine(Phi4Config(model=str(tiny_model)))
    (assessment,) = engine.score(_items(1))
    body = assessment.to_dict()
    assert body["status"] == "scored", body
    assert set(body["scores"]) == {"accuracy", "fluency", "prosodic", "total"}
    assert body["meaningless"] is True
    assert body["words"] and all("ops" in word for word in body["words"])


def test_mixed_length_batch_equals_one_by_one_greedy(untaught: Phi4Engine) -> None:
    items = _items(4)
    assert len({round(item.seconds, 2) for item in items}) == 4, "need four different lengths"
    batched, _ = untaught.generate(items)
    singles = [untaught.generate([item])[0][0] for item in items]
    assert batched == singles
    assert len({tuple(out) for out in batched}) > 1, "outputs must depend on the input for this test to bite"


def test_a_peft_adapter_loads_and_changes_outputs(untaught_model: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    base = Phi4MultimodalForCausalLM.from_pretrained(untaught_model)
    config = speech_lora_config()
    config.init_lora_weights = False  # random A and B, so the adapter is not the identity
    get_peft_model(base, config).save_pretrained(str(tmp_path / "adapter"))

    plain = Phi4Engine(Phi4Config(model=str(untaught_model)))
    adapted = Phi4Engine(Phi4Config(model=str(untaught_model), adapter=str(tmp_path / "adapter")))
    items = _items(2)
    assert adapted.generate(items)[0] != plain.generate(items)[0]
    assert adapted.version.artifact_sha256 and len(adapted.version.artifact_sha256) == 64
    assert adapted.version.artifact_sha256[:12] in adapted.version.name


def test_missing_adapter_is_a_clear_error(untaught_model: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no peft adapter"):
        Phi4Engine(Phi4Config(model=str(untaught_model), adapter=str(tmp_path)))


def test_unparseable_generation_is_a_failure_not_an_exception(untaught: Phi4Engine) -> None:
    assessments = untaught.score(_items(2))
    for assessment in assessments:
        assert not assessment.scored
        assert assessment.failure.detail.startswith("missing ")
        body = assessment.to_dict()
        assert body["reason"] == "unparseable_output"
        assert body["raw_output"] == assessment.detail.raw


def test_paper_format_runs_two_generations(untaught_model: Path) -> None:
    engine = Phi4Engine(Phi4Config(model=str(untaught_model), task_format="paper"))
    outputs, _ = engine.generate(_items(2))
    assert [len(o) for o in outputs] == [2, 2]


def test_out_of_memory_halves_the_batch_and_keeps_order(untaught: Phi4Engine, monkeypatch) -> None:
    real = untaught._batch
    sizes: list[int] = []

    def batch_or_oom(samples, prompts, budgets, objects, rows, fast):
        sizes.append(len(rows))
        if len(rows) > 1:
            raise torch.OutOfMemoryError("simulated")
        return real(samples, prompts, budgets, objects, rows, fast)

    items = _items(3)
    expected = [untaught.generate([item])[0][0] for item in items]
    monkeypatch.setattr(untaught, "_batch", batch_or_oom)
    assert untaught.generate(items)[0] == expected
    assert sizes == [3, 1, 2, 1, 1]
