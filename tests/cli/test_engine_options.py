"""The engine options `score`, `evaluate` and `train` share, derived from the registry: each
command offers every engine's, a bad choice or value is one clear line naming the option, and a
bad engine setting stops a worker before it starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from engines.registry import ENGINES
from tests.cli.test_errors import one_clear_line, unused_port
from tests.conftest import ROOT, sample_wav

runner = CliRunner()


@pytest.mark.parametrize("command", ["score", "evaluate"])
def test_scoring_commands_offer_every_engine_and_its_options(command: str) -> None:
    help_text = runner.invoke(app, [command, "-h"], env={"COLUMNS": "200"}).stdout
    assert "--engine" in help_text
    for spec in ENGINES.values():
        assert spec.summary in help_text, spec.name
        assert all(option.flag in help_text for option in spec.options), spec.name


def test_train_offers_the_phi4mm_options_it_uses() -> None:
    help_text = runner.invoke(app, ["train", "-h"], env={"COLUMNS": "200"}).stdout
    assert all(flag in help_text for flag in ("--model", "--task-format", "--device"))
    assert "--engine" not in help_text and "--calibration" not in help_text


def _score(*options: str) -> list[str]:
    good, text = sample_wav(0)
    return ["score", str(good), "--text", text, *options]


def test_an_unknown_engine_is_named() -> None:
    one_clear_line(runner.invoke(app, _score("--engine", "kaldi")), "--engine must be gop or phi4mm, not 'kaldi'")


def test_an_option_of_another_engine_is_refused() -> None:
    result = runner.invoke(app, _score("--engine", "phi4mm", "--calibration", "school.json"))
    one_clear_line(result, "--calibration is an option of the gop engine, and this runs phi4mm")


def test_a_bad_value_is_named_by_its_option() -> None:
    result = runner.invoke(app, _score("--model", "/models/phi4", "--task-format", "joint-v9"))
    one_clear_line(result, "--task-format: unknown task format 'joint-v9'; choose one of joint-v1, paper, terse-v1")


def test_a_bad_engine_setting_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRONSCORE_ENGINE", "kaldi")
    result = runner.invoke(app, _score())
    one_clear_line(result, "invalid setting PRONSCORE_ENGINE: Value error, unknown engine 'kaldi'")


def test_the_old_name_of_task_format_still_works_with_a_warning() -> None:
    result = runner.invoke(app, _score("--model", "/nowhere/phi4", "--format", "joint-v9"))
    one_clear_line(result, "--task-format: unknown task format 'joint-v9'")
    assert "--format is deprecated here; use --task-format" in result.stderr


def test_a_worker_with_a_bad_engine_setting_stops_before_it_starts(tmp_path: Path) -> None:
    environment = {"PRONSCORE_ENGINE": "kaldi", "PRONSCORE_REDIS_URL": f"redis://127.0.0.1:{unused_port()}/0"}
    result = subprocess.run(
        [ROOT / ".venv" / "bin" / "pronscore", "worker"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **environment},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "invalid setting PRONSCORE_ENGINE" in result.stderr
