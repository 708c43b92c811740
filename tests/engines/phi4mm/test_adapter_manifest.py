"""The engine reads an adapter's manifest before it loads the adapter: the adapter's task format
is the default, and a task format, base model or revision other than its own is refused."""

import json
import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from engines import load_engine
from engines.phi4mm import Phi4Config, Phi4Engine
from engines.phi4mm.lora import ADAPTER_MANIFEST, BASE_SPEECH_ADAPTER
from engines.phi4mm.manifest import AdapterMismatch, base_model_id
from engines.phi4mm.spec import Phi4Settings
from tests.conftest import sample_wav

runner = CliRunner()


def _adapter(base: Path, out: Path, **manifest: object) -> Path:
    """The base's own speech LoRA as an adapter whose manifest says it was trained on `paper`."""
    shutil.copytree(base / BASE_SPEECH_ADAPTER, out)
    body = {"task_format": "paper", "base_model": base_model_id(str(base)), "base_revision": None} | manifest
    (out / ADAPTER_MANIFEST).write_text(json.dumps(body))
    return out


def test_the_adapters_own_task_format_is_the_default(tiny_model: Path, tmp_path: Path) -> None:
    engine = Phi4Engine(Phi4Config(model=str(tiny_model), adapter=str(_adapter(tiny_model, tmp_path / "a"))))
    assert engine.task.name == engine.version.detail.task_format == "paper"
    assert engine.version.name.endswith("/paper")
    assert Phi4Settings.model_fields["task_format"].default is None, "unset, so that the adapter decides"


@pytest.mark.parametrize(
    ("manifest", "config", "named"),
    [
        ({}, {"task_format": "joint-v1"}, "task format: trained on 'paper', asked to serve 'joint-v1'"),
        (
            {"base_model": "microsoft/Phi-4-multimodal-instruct", "base_revision": "refs/pr/70"},
            {},
            "base model: trained on 'microsoft/Phi-4-multimodal-instruct', asked to serve '{base}'",
        ),
        ({"base_revision": "refs/pr/70"}, {}, "base revision: trained on 'refs/pr/70', asked to serve None"),
    ],
    ids=["task format", "base model", "revision"],
)
def test_a_mismatch_is_refused_naming_both_values(
    untaught_model: Path, tmp_path: Path, manifest: dict, config: dict, named: str
) -> None:
    adapter = _adapter(untaught_model, tmp_path / "a", **manifest)
    with pytest.raises(AdapterMismatch) as refused:
        Phi4Engine(Phi4Config(model=str(untaught_model), adapter=str(adapter), **config))
    assert named.format(base=untaught_model.resolve()) in str(refused.value)
    assert "PRONSCORE_ADAPTER_MISMATCH_OK" in str(refused.value)


def test_the_expert_override_serves_it_and_logs_the_mismatch(
    untaught_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = _adapter(untaught_model, tmp_path / "a")
    for name, value in {
        "PRONSCORE_MODEL": str(untaught_model),
        "PRONSCORE_ADAPTER": str(adapter),
        "PRONSCORE_TASK_FORMAT": "joint-v1",
        "PRONSCORE_ADAPTER_MISMATCH_OK": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="engines.phi4mm.manifest"):
        engine = load_engine()
    assert engine.version.detail.task_format == "joint-v1"
    assert "trained on 'paper', asked to serve 'joint-v1'" in caplog.text


def test_score_refuses_a_mismatch_unless_told_otherwise(tiny_model: Path, tmp_path: Path) -> None:
    adapter = _adapter(tiny_model, tmp_path / "a")
    wav, text = sample_wav(0)
    args = ["score", str(wav), "--text", text, "--model", str(tiny_model), "--adapter", str(adapter)]
    refused = runner.invoke(app, [*args, "--task-format", "joint-v1"])
    assert refused.exit_code == 2 and "does not fit this configuration" in refused.output
    served = runner.invoke(app, [*args, "--task-format", "joint-v1", "--adapter-mismatch-ok"])
    assert served.exit_code == 0, served.output
    assert json.loads(served.stdout.splitlines()[0])["model"]["task_format"] == "joint-v1"
