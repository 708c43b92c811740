import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import Phi4MultimodalForCausalLM
from transformers.models.phi4_multimodal import modeling_phi4_multimodal
from typer.testing import CliRunner

from cli.app import app
from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from engines.phi4mm.lora import ADAPTER_MANIFEST, AUDIO_WEIGHTS, BASE_SPEECH_ADAPTER, adapter_sha256
from scoring.audio import decode
from tests.conftest import SAMPLE_DIR, sample_wav
from training.checkpoints import ResumeRefused
from training.trainer import TrainConfig, train

runner = CliRunner()


def _subset(path: Path, count: int, skip: int = 0) -> Path:
    """A labels file of `count` training utterances of the sample (absolute audio paths)."""
    lines = []
    for line in (SAMPLE_DIR / "labels.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["split"] == "train":
            lines.append(json.dumps(record | {"audio": str(SAMPLE_DIR / record["audio"])}))
    path.write_text("\n".join(lines[skip : skip + count]) + "\n")
    return path


def _config(tiny_model: Path, out: Path, **overrides) -> TrainConfig:
    values = {
        "data": SAMPLE_DIR / "labels.jsonl",
        "model": str(tiny_model),
        "out": out,
        "batch_size": 2,
        "gradient_accumulation": 1,
        "learning_rate": 5e-3,  # large enough for two steps to show in greedy outputs
        "warmup_steps": 0,
    }
    return TrainConfig(**(values | overrides))


def test_two_steps_give_a_finite_loss_and_an_adapter_the_engine_loads(tiny_model: Path, tmp_path: Path) -> None:
    result = train(_config(tiny_model, tmp_path / "run", max_steps=2))
    assert result.steps == 2 and math.isfinite(result.loss) and result.trained and not result.finished
    manifest = json.loads((result.adapter / ADAPTER_MANIFEST).read_text())
    assert manifest["weights_sha256"] == adapter_sha256(result.adapter)
    assert manifest["task_format"] == "joint-v1" and manifest["data"]["utterances"] > 0
    assert manifest["hyperparameters"]["learning_rate"] == 5e-3
    assert manifest["final_loss"] == result.loss

    items = []
    for index in (0, 3, 9):
        path, text = sample_wav(index)
        items.append(ScoringItem(decode(path.read_bytes(), 40), text))
    plain = Phi4Engine(Phi4Config(model=str(tiny_model)))
    tuned = Phi4Engine(Phi4Config(model=str(tiny_model), adapter=str(result.adapter)))
    assert tuned.version.artifact_sha256 == manifest["weights_sha256"]
    assert tuned.generate(items)[0] != plain.generate(items)[0]


def test_the_manifest_records_the_whole_recipe_and_the_data_path_resolved(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _subset(tmp_path / "labels.jsonl", 2)
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(data=Path("labels.jsonl"), model=str(tiny_model), out=tmp_path / "run", max_steps=1)
    manifest = json.loads((train(config).adapter / ADAPTER_MANIFEST).read_text())
    assert manifest["data"]["source"] == str((tmp_path / "labels.jsonl").resolve())
    assert manifest["base_model"] == str(tiny_model.resolve()) and manifest["base_revision"] is None
    hyper = manifest["hyperparameters"]
    # The paper's values, and Microsoft's sample_finetune_speech.py where the paper states none.
    assert (hyper["learning_rate"], hyper["batch_size"], hyper["gradient_accumulation"], hyper["epochs"]) == (
        2e-5, 8, 8, 4
    )  # fmt: skip
    assert hyper["optimizer"] | {"weight_decay_on": None} == {
        "name": "AdamW", "betas": [0.9, 0.95], "eps": 1e-7, "weight_decay": 0.01, "weight_decay_on": None
    }  # fmt: skip
    assert hyper["schedule"] == {"name": "linear", "warmup_steps": 50, "total_steps": 4}
    assert hyper["max_grad_norm"] == 1.0 and hyper["master_weights"] == "float32"
    assert hyper["compute_dtype"] == "float32"


def _trained_tensors(base: Path, adapter: Path, dtype: torch.dtype) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every tensor `--variant unfreeze` trains, as the run started from it (the base model's
    weights in the run's dtype, its speech LoRA in float32) and as it ended."""
    pairs = {}
    before = load_file(base / BASE_SPEECH_ADAPTER / "adapter_model.safetensors")
    for name, after in load_file(adapter / "adapter_model.safetensors").items():
        pairs[name] = (before[name], after)
    model = Phi4MultimodalForCausalLM.from_pretrained(base)
    audio = model.model.embed_tokens_extend.audio_embed
    base_weights = load_file(base / "model.safetensors")
    trained_audio = load_file(adapter / AUDIO_WEIGHTS)
    for name, _ in audio.named_parameters():
        if "vision_speech" not in name:  # the projection used with images only, never trained
            start = base_weights[f"model.embed_tokens_extend.audio_embed.{name}"].to(dtype).float()
            pairs[name] = (start, trained_audio[name].float())
    return pairs


def test_one_bf16_step_changes_every_trained_tensor(tiny_model: Path, tmp_path: Path) -> None:
    """On a GPU the base is bf16; a bf16 weight cannot take most updates of size 2e-5, so
    trained tensors must be float32 masters (reproduced here on the CPU in bf16)."""
    data = _subset(tmp_path / "labels.jsonl", 2)
    config = _config(
        tiny_model, tmp_path / "run", data=data, learning_rate=2e-5, max_steps=1, variant="unfreeze", dtype="bfloat16"
    )
    result = train(config)
    pairs = _trained_tensors(tiny_model, result.adapter, torch.bfloat16)
    assert len(pairs) > 50
    unchanged = [name for name, (before, after) in pairs.items() if torch.equal(before.float(), after.float())]
    assert not unchanged, f"{len(unchanged)} of {len(pairs)} trained tensors did not change: {unchanged[:5]}"
    changed = sum(int((before.float() != after.float()).sum()) for before, after in pairs.values())
    assert changed / sum(before.numel() for before, _ in pairs.values()) > 0.95


def test_an_interrupted_run_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one(
    tiny_model: Path, tmp_path: Path
) -> None:
    data = _subset(tmp_path / "labels.jsonl", 6)
    out = tmp_path / "run"
    first = runner.invoke(
        app,
        ["train", "--data", str(data), "--model", str(tiny_model), "--out", str(out), "--max-steps", "1",
         "--batch-size", "2", "--grad-accum", "1", "--save-every", "1", "--lr", "5e-3", "--warmup-steps", "0"],
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 1
    resumed = train(_config(tiny_model, out, data=data, max_steps=3))
    assert (resumed.resumed_from, resumed.steps) == (1, 3)
    straight = train(_config(tiny_model, tmp_path / "straight", data=data, max_steps=3))
    for name, weight in load_file(straight.adapter / "adapter_model.safetensors").items():
        assert torch.allclose(load_file(resumed.adapter / "adapter_model.safetensors")[name], weight), name
    assert resumed.loss == pytest.approx(straight.loss)


def test_resuming_under_another_recipe_or_data_is_refused_naming_what_differs(tiny_model: Path, tmp_path: Path) -> None:
    data = _subset(tmp_path / "labels.jsonl", 4)
    out = tmp_path / "run"
    train(_config(tiny_model, out, data=data, max_steps=1))
    manifest = (out / "adapter" / ADAPTER_MANIFEST).read_text()

    refused = runner.invoke(
        app,
        ["train", "--data", str(data), "--model", str(tiny_model), "--out", str(out), "--batch-size", "4",
         "--grad-accum", "1", "--lr", "5e-3", "--warmup-steps", "0"],
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "batch_size: 2 -> 4" in refused.output and "cannot be resumed" in refused.output
    with pytest.raises(ResumeRefused, match=r"data\.fingerprint"):
        train(_config(tiny_model, out, data=_subset(tmp_path / "other.jsonl", 4, skip=4), max_steps=2))
    assert (out / "adapter" / ADAPTER_MANIFEST).read_text() == manifest


def test_repeating_a_finished_run_says_so_and_leaves_the_adapter_alone(tiny_model: Path, tmp_path: Path) -> None:
    data = _subset(tmp_path / "labels.jsonl", 2)
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--model", str(tiny_model), "--out", str(out), "--epochs", "1",
            "--batch-size", "2", "--grad-accum", "1", "--warmup-steps", "0"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    manifest = json.loads((out / "adapter" / ADAPTER_MANIFEST).read_text())

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "adapter" / ADAPTER_MANIFEST).read_text()) == manifest
    assert "already finished" in again.output
    assert manifest["finished"] and manifest["steps"] == 1 and math.isfinite(manifest["final_loss"])
    assert (out / "epoch-1" / ADAPTER_MANIFEST).is_file()

    # Killed after its last checkpoint but before the adapter was written: the adapter comes
    # from the checkpoint, with the loss of the last step taken (never NaN).
    for path in (out / "adapter").iterdir():
        path.unlink()
    rewritten = train(_config(tiny_model, out, data=data, epochs=1, learning_rate=2e-5))
    assert rewritten.trained and rewritten.finished
    assert json.loads((out / "adapter" / ADAPTER_MANIFEST).read_text())["final_loss"] == manifest["final_loss"]


def test_lora_encodes_each_recording_once_for_both_paper_prompts_and_every_epoch(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = modeling_phi4_multimodal.Phi4MultimodalAudioModel
    real, calls = encoder.forward, []

    def counting(self, hidden_states, *args, **kwargs):
        calls.append(hidden_states.shape[0])
        return real(self, hidden_states, *args, **kwargs)

    monkeypatch.setattr(encoder, "forward", counting)
    data = _subset(tmp_path / "labels.jsonl", 3)
    result = train(_config(tiny_model, tmp_path / "run", data=data, task_format="paper", epochs=2))
    assert sum(calls) == 3
    assert result.steps == 6  # 3 recordings x 2 prompts, in batches of 2, twice
