"""Runs by name or id, what failed in them, and one meaning of their rate."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from cli.app import app
from db.models import Batch, BatchStatus, Recording, RecordingStatus
from db.runs import get_or_create_run
from db.session import session_scope
from scoring.failures import FailureReason
from tests.factories import add_recording

runner = CliRunner()
WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)


@pytest.fixture
def night(clean_db: str) -> int:
    """Run `night`: 2 scored and 2 failed recordings finished in one batch over 8 s, 1 queued."""
    with session_scope(clean_db) as session:
        run_id = get_or_create_run(session, "night")
        session.add(Batch(run_id=run_id, status=BatchStatus.done, started_at=WHEN, finished_at=WHEN.replace(second=8)))
        for source in ("s1", "s2"):
            add_recording(session, source, "kim", "4a", WHEN, run_id=run_id, status=RecordingStatus.scored)
        for source, reason in (("f1", "audio_silent"), ("f2", "object_missing")):
            add_recording(
                session, source, "lee", "4a", WHEN, run_id=run_id, status=RecordingStatus.failed, failure_reason=reason
            )
        session.execute(
            update(Recording).where(Recording.source_id == "f1").values(failure_detail="peak level 0.0001 is silence")
        )
        add_recording(session, "q1", "kim", "4a", WHEN, run_id=run_id)
        get_or_create_run(session, "later")  # the newest run, so RUN must pick `night`
    return run_id


def test_status_accepts_the_run_id_enqueue_printed(night: int) -> None:
    by_id = runner.invoke(app, ["status", str(night)])
    assert by_id.exit_code == 0, by_id.output
    assert by_id.stdout.startswith("run night: 5 recordings")
    by_name = runner.invoke(app, ["status", "night"])
    assert by_name.stdout == by_id.stdout


def test_failures_lists_reason_and_detail(night: int) -> None:
    table = runner.invoke(app, ["failures", str(night)])
    assert table.exit_code == 0, table.output
    assert "run night: 2 failed recordings" in table.stdout
    lines = [line for line in table.stdout.splitlines() if line.strip().startswith("f")]
    assert [line.split()[:3] for line in lines] == [["f1", "lee", "audio_silent"], ["f2", "lee", "object_missing"]]
    assert "peak level 0.0001 is silence" in table.stdout
    for reason in (FailureReason.audio_silent, FailureReason.object_missing):
        assert f"{reason}: {reason.explanation}" in table.stdout, "what each reason means, in plain words"
    as_csv = runner.invoke(app, ["failures", "night", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["recording_id"], r["reason"], r["detail"]) for r in rows] == [
        ("f1", "audio_silent", "peak level 0.0001 is silence"),
        ("f2", "object_missing", ""),
    ]
    assert rows[0]["learner_id"] == "lee" and rows[0]["attempts"] == "0"


def test_status_and_run_summary_give_the_same_rate(night: int) -> None:
    status = runner.invoke(app, ["status", "night"])
    (shown,) = re.findall(r"([\d.]+) recordings/s", status.stdout)
    summary = runner.invoke(app, ["report", "run-summary", "--format", "json"])
    rate = {row["run"]: row["recordings_per_second"] for row in json.loads(summary.stdout)}["night"]
    # 4 recordings finished (2 scored, 2 failed) in the 8 s from the batch's start to its end.
    assert float(shown) == pytest.approx(0.5) and rate == pytest.approx(0.5)
