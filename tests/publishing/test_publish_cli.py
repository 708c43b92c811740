"""`pronscore report html` and `pronscore publish`, the nightly job's last step, through the CLI:
the site of a run's classes written and uploaded to an S3 prefix, read as the read-only role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from cli.app import app
from db.models import Recording
from db.runs import get_or_create_run
from db.session import session_scope
from pronscore.settings import get_settings
from pronscore.storage import AudioStore
from tests.pipeline import S3Server
from tests.publishing.conftest import CLASS, fill_class, store_for

runner = CliRunner()


@pytest.fixture(scope="module")
def night(database_url: str, s3_server: S3Server) -> Iterator[AudioStore]:
    """The class's recordings as run night-1, and settings that reach their bucket."""
    store = store_for(s3_server)
    fill_class(database_url, store)
    with session_scope(database_url) as session:
        session.execute(update(Recording).values(run_id=get_or_create_run(session, "night-1")))
    settings = {
        "PRONSCORE_S3_ENDPOINT_URL": s3_server.endpoint,
        "PRONSCORE_S3_ACCESS_KEY_ID": s3_server.access_key,
        "PRONSCORE_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "PRONSCORE_S3_BUCKET": store.settings.s3_bucket,
    }
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield store
    get_settings.cache_clear()


def test_publish_writes_the_runs_classes_and_uploads_them(night: AudioStore, tmp_path: Path) -> None:
    bucket = night.settings.s3_bucket
    result = runner.invoke(
        app, ["publish", "night-1", "--out", str(tmp_path / "site"), "--upload", f"s3://{bucket}/reports/nightly"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "site" / "index.html")
    assert f"Class {CLASS}" in (tmp_path / "site" / "index.html").read_text()
    listed = night.client.list_objects_v2(Bucket=bucket, Prefix="reports/nightly/")["Contents"]
    keys = {item["Key"] for item in listed}
    assert {"reports/nightly/index.html", "reports/nightly/style.css"} <= keys
    assert len([key for key in keys if key.startswith("reports/nightly/audio/")]) == 16
    page = night.client.get_object(Bucket=bucket, Key="reports/nightly/index.html")
    assert page["ContentType"] == "text/html"


def test_report_html_needs_one_class_or_all(night: AudioStore, tmp_path: Path) -> None:
    neither = runner.invoke(app, ["report", "html", "--out", str(tmp_path / "a")])
    assert neither.exit_code == 2 and "give --class C or --all-classes" in neither.stderr
    every = runner.invoke(app, ["report", "html", "--all-classes", "--no-audio", "--out", str(tmp_path / "b")])
    assert every.exit_code == 0, every.output
    assert f">{CLASS}</a>" in (tmp_path / "b" / "index.html").read_text()


def test_the_site_is_read_as_the_report_role(
    night: AudioStore, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRONSCORE_REPORT_DATABASE_URL", database_url.replace("//postgres@", "//no_such_role@"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["report", "html", "--class", CLASS, "--no-audio", "--out", str(tmp_path / "c")])
    finally:
        monkeypatch.delenv("PRONSCORE_REPORT_DATABASE_URL")
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot read the report views as the read-only role" in result.stderr
    assert "PRONSCORE_REPORT_DATABASE_URL" in result.stderr
