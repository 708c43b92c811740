import json
import math
from pathlib import Path

from typer.testing import CliRunner

from cli.app import app
from engines import ScoringItem
from engines.phi4mm import Phi4Config, Phi4Engine
from engines.phi4mm.lora import ADAPTER_MANIFEST, adapter_sha256
from scoring.audio import decode
from tests.conftest import SAMPLE_DIR, sample_wav
from training.trainer import TrainConfig, train

runner = CliRunner()


def _config(tiny_model: Path, out: Path, **overrides) -> TrainConfig:
    values = {
        "data": SAMPLE_DIR / "labels.jsonl",
        "model": str(tiny_model),
        "out": out,
        "batch_size": 2,
        "gradient_accumulation": 1,
        "learning_rate": 5e-3,  # large enough for two steps to show in greedy outputs
    }
    return TrainConfig(**(values | overrides))


def test_two_steps_give_a_finite_loss_and_an_adapter_the_engine_loads(tiny_model: Path, tmp_path: Path) -> None:
    result = train(_config(tiny_model, tmp_path / "run", max_steps=2))
    assert result.steps == 2 and math.isfinite(result.loss)
    manifest = json.loads((result.adapter / ADAPTER_MANIFEST).read_text())
    assert manifest["weights_sha256"] == adapter_sha256(result.adapter)
    assert manifest["task_format"] == "joint-v1" and manifest["data"]["utterances"] > 0
    assert manifest["hyperparameters"]["learning_rate"] == 5e-3

    items = []
    for index in (0, 3, 9):
        path, text = sample_wav(index)
        items.append(ScoringItem(decode(path.read_bytes(), 40), text))
    plain = Phi4Engine(Phi4Config(model=str(tiny_model)))
    tuned = Phi4Engine(Phi4Config(model=str(tiny_model), adapter=str(result.adapter)))
    assert tuned.version.adapter_sha256 == manifest["weights_sha256"]
    assert tuned.generate(items)[0] != plain.generate(items)[0]


def test_an_interrupted_run_resumes_from_its_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = runner.invoke(
        app,
        ["train", "--data", str(SAMPLE_DIR), "--model", str(tiny_model), "--out", str(out), "--max-steps", "1",
         "--batch-size", "2", "--grad-accum", "1", "--save-every", "1"],
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 1
    second = train(_config(tiny_model, out, max_steps=3))
    assert (second.resumed_from, second.steps) == (1, 3)
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 3


def test_unfreeze_variant_saves_the_audio_encoder(tiny_model: Path, tmp_path: Path) -> None:
    result = train(_config(tiny_model, tmp_path / "run", max_steps=1, variant="unfreeze"))
    assert (result.adapter / "audio_embed.safetensors").is_file()
    engine = Phi4Engine(Phi4Config(model=str(tiny_model), adapter=str(result.adapter)))
    assert engine.version.adapter_sha256 == adapter_sha256(result.adapter)
