"""What a newcomer trips on first: the version, -h, a downgrade that asks, the bundled sample
and the tiny checkpoint from any directory, and the task format's own flag."""

from __future__ import annotations

import csv
import json
import os
from importlib.metadata import version
from pathlib import Path

import psycopg
import pytest
from alembic import command
from typer.testing import CliRunner

from cli.app import app
from migrations import alembic_config
from pronscore.settings import get_settings
from tests.conftest import SAMPLE_DIR, create_database, drop_database

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pronscore {version('pronscore')}"


@pytest.mark.parametrize("args", [["-h"], ["report", "-h"], ["db", "downgrade", "-h"], ["model", "tiny", "-h"]])
def test_short_help(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout and "--help" in result.stdout


@pytest.fixture
def migrated(monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"pronscore_test_downgrade_{os.getpid()}"
    url = create_database(name)
    command.upgrade(alembic_config(url), "head")
    monkeypatch.setenv("PRONSCORE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop_database(name)


def _tables(url: str) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]


def test_downgrade_needs_a_target_and_yes(migrated: str) -> None:
    before = _tables(migrated)
    no_target = runner.invoke(app, ["db", "downgrade"])
    assert no_target.exit_code == 2
    unconfirmed = runner.invoke(app, ["db", "downgrade", "base"])
    assert unconfirmed.exit_code == 2
    assert "deletes data; add --yes to confirm" in unconfirmed.stderr
    assert _tables(migrated) == before
    confirmed = runner.invoke(app, ["db", "downgrade", "base", "--yes"])
    assert confirmed.exit_code == 0, confirmed.output
    assert _tables(migrated) == 1  # alembic_version


def test_sample_manifest_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sample", "manifest", "manifest.csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    assert len(rows) == 144
    assert all(Path(row["audio"]).is_file() for row in rows)


def _vocabulary(checkpoint: Path) -> int:
    return len(json.loads((checkpoint / "tokenizer.json").read_text())["model"]["vocab"])


def test_model_tiny_from_any_directory_learns_from_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    taught = runner.invoke(app, ["model", "tiny", "from-sample", "--teach-steps", "0"])
    assert taught.exit_code == 0, taught.output
    one = runner.invoke(app, ["model", "tiny", "from-one", "--teach-steps", "0", "--one-utterance"])
    assert one.exit_code == 0, one.output
    # The tokenizer is trained on the answers it imitates: 144 utterances give it more words.
    assert _vocabulary(tmp_path / "from-sample") > _vocabulary(tmp_path / "from-one")


def test_model_tiny_refuses_missing_labels(tmp_path: Path) -> None:
    result = runner.invoke(app, ["model", "tiny", str(tmp_path / "out"), "--labels", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2
    assert "no labels at" in result.stderr and "--one-utterance" in result.stderr
    assert not (tmp_path / "out").exists()


def test_model_tiny_reports_each_teaching_step(tmp_path: Path) -> None:
    from training.tiny import write_tiny_checkpoint

    seen: list[tuple[int, int]] = []
    write_tiny_checkpoint(
        tmp_path / "tiny", SAMPLE_DIR / "labels.jsonl", teach_steps=3, progress=lambda *s: seen.append(s)
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_task_format_has_its_own_flag(tmp_path: Path) -> None:
    for command_name in ("score", "train", "evaluate"):
        help_text = runner.invoke(app, [command_name, "-h"], env={"COLUMNS": "200"}).stdout
        assert "--task-format" in help_text, command_name
        assert "--format " not in help_text, command_name
    clash = runner.invoke(
        app,
        ["train", "--data", str(SAMPLE_DIR), "--out", str(tmp_path), "--format", "paper", "--task-format", "joint-v1"],
    )
    assert clash.exit_code == 2
    assert "--format is the old name of --task-format" in clash.stderr
