"""Each failure an operator meets in the first month ends as one line and exit status 2, with
the real services made unavailable (a database that does not exist or is not migrated, a port
where no Redis listens, S3 keys unset), never as a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli.app import app
from pronscore.settings import get_settings
from tests.conftest import ROOT, create_database, drop_database, sample_wav
from tests.pipeline import S3Server

runner = CliRunner()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pronscore(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Run the CLI in-process under the given PRONSCORE_* variables (settings read afresh)."""

    def invoke(*args: str, **env: str) -> Result:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args))
        finally:
            get_settings.cache_clear()

    yield invoke
    get_settings.cache_clear()


def one_clear_line(result: Result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert expected in result.stderr, result.stderr


@pytest.fixture
def unmigrated_url() -> Iterator[str]:
    name = f"pronscore_test_unmigrated_{os.getpid()}"
    yield create_database(name)
    drop_database(name)


def test_a_database_that_does_not_exist(pronscore, database_url: str) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/pronscore_no_such_database"
    result = pronscore("status", PRONSCORE_DATABASE_URL=missing)
    one_clear_line(result, "database pronscore_no_such_database does not exist")
    assert "pronscore db upgrade" in result.stderr


def test_a_database_that_is_not_migrated(pronscore, unmigrated_url: str) -> None:
    result = pronscore("status", PRONSCORE_DATABASE_URL=unmigrated_url)
    name = unmigrated_url.rsplit("/", 1)[1]
    one_clear_line(result, f"database {name} is not migrated: run `pronscore db upgrade`")


def test_reports_on_a_database_that_is_not_migrated(pronscore, unmigrated_url: str) -> None:
    result = pronscore("report", "learner-progress", PRONSCORE_DATABASE_URL=unmigrated_url)
    one_clear_line(result, "is not migrated: run `pronscore db upgrade`")


def test_an_invalid_setting_is_named(pronscore, clean_db: str) -> None:
    result = pronscore("status", PRONSCORE_LEASE_SECONDS="1")
    one_clear_line(result, "invalid setting PRONSCORE_LEASE_SECONDS: Input should be greater than or equal to 5")


def test_an_invalid_secret_is_named_but_not_printed(pronscore, clean_db: str) -> None:
    result = pronscore("status", PRONSCORE_DATABASE_URL="not a url with password hunter2")
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_an_unknown_run(pronscore, clean_db: str) -> None:
    one_clear_line(pronscore("status", "no-such-run"), "no run named 'no-such-run'")
    one_clear_line(pronscore("failures", "no-such-run"), "no run named 'no-such-run'")


def test_a_binary_manifest(pronscore, clean_db: str, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes(sample_wav(0)[0].read_bytes()[:4096])
    result = pronscore("enqueue", str(manifest))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_sweep_with_redis_down(pronscore, clean_db: str) -> None:
    result = pronscore("sweep", PRONSCORE_REDIS_URL=f"redis://:hunter2@127.0.0.1:{unused_port()}/0")
    one_clear_line(result, "cannot reach the broker at redis://:**@127.0.0.1:")
    assert "hunter2" not in result.output


def test_s3_keys_unset(pronscore, clean_db: str, s3_server: S3Server, tmp_path: Path, monkeypatch) -> None:
    audio, text = sample_wav(0)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        f"recording_id,learner_id,class_id,audio,text,submitted_at\nr1,l1,c1,{audio},{text},2026-11-02T09:00:00\n"
    )
    for name in ("PRONSCORE_S3_ACCESS_KEY_ID", "PRONSCORE_S3_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    result = pronscore(
        "enqueue",
        str(manifest),
        PRONSCORE_S3_ENDPOINT_URL=s3_server.endpoint,
        PRONSCORE_REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    one_clear_line(result, "no S3 credentials: set PRONSCORE_S3_ACCESS_KEY_ID and PRONSCORE_S3_SECRET_ACCESS_KEY")


def test_db_upgrade_to_a_revision_that_does_not_exist(pronscore, unmigrated_url: str) -> None:
    result = pronscore("db", "upgrade", "nonsense", PRONSCORE_DATABASE_URL=unmigrated_url)
    one_clear_line(result, "no revision 'nonsense': give head, base or one of 0001")


def test_report_top_out_of_range(pronscore, clean_db: str) -> None:
    result = pronscore("report", "class-weak-phones", "--top", "2147483648")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--top" in result.output


def test_plot_into_a_missing_folder(pronscore, clean_db: str, tmp_path: Path) -> None:
    chart = tmp_path / "missing" / "chart.png"
    one_clear_line(
        pronscore("report", "learner-progress", "--plot", str(chart)),
        f"the folder {chart.parent} does not exist",
    )


def test_debug_shows_the_traceback(pronscore, database_url: str) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/pronscore_no_such_database"
    result = pronscore("--debug", "status", PRONSCORE_DATABASE_URL=missing)
    assert result.exit_code == 1
    assert "does not exist" in str(result.exception)


def test_a_draining_worker_gives_up_without_a_broker(clean_db: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PRONSCORE_DATABASE_URL": clean_db,
        "PRONSCORE_REDIS_URL": f"redis://127.0.0.1:{unused_port()}/0",
        "PRONSCORE_BROKER_WAIT_SECONDS": "3",
        "PRONSCORE_METRICS_PORT": "0",
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pronscore"), "worker", "--drain", "--drain-interval", "0.5"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "has been unreachable for 3 s (PRONSCORE_BROKER_WAIT_SECONDS); the draining worker gives up" in done.stderr
    assert time.monotonic() - started < 90
