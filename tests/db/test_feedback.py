"""What one recording got wrong: the feedback view, its service, `pronscore show` and the
client's `assessment`, on hand-built rows in a real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.app import app
from db.models import Recording, RecordingStatus
from db.reports.feedback import UnknownRecording, recording_feedback
from db.session import session_scope
from db.upserts import upsert_model_version
from producer.client import ScoringClient
from pronscore.settings import Settings
from tests.db.test_report_role import _connect_as_reporter
from tests.factories import add_assessment, add_recording, scored

WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)
MODEL = "phi4mm/joint-v1"
WORDS = [("WE", "W IY"), ("BEAR", "B EH R")]
runner = CliRunner()


def _build(session: Session) -> None:
    """r1: the model heard "W IY B AE" (EH→AE, R dropped), the expert heard it all right; r1's
    older version was heard otherwise. r2 failed before any assessment."""
    old = add_recording(session, "r1", "kim", "4a", WHEN, take="old", reference_text="We bear", duration=2.0)
    add_assessment(session, old, MODEL, scored((2, 2, 2, 2), WORDS, "W IY"))
    session.execute(update(Recording).where(Recording.id == old).values(created_at=datetime(2026, 9, 1, tzinfo=UTC)))
    r1 = add_recording(session, "r1", "kim", "4a", WHEN)
    add_assessment(session, r1, MODEL, scored((6, 7, 8, 7), WORDS, "W IY B AE"))
    upsert_model_version(session, "human:expert", is_human=True)
    add_assessment(session, r1, "human:expert", scored((9, 9, 9, 9), WORDS, "W IY B EH R"))
    add_recording(session, "r2", "lee", "4a", WHEN, status=RecordingStatus.failed, failure_reason="audio_silent")
    session.execute(update(Recording).where(Recording.source_id == "r2").values(failure_detail="nothing above -60 dB"))


@pytest.fixture
def built(clean_db: str) -> str:
    with session_scope(clean_db) as session:
        _build(session)
    return clean_db


def test_the_service_gives_the_newest_version_word_by_word(built: str) -> None:
    with session_scope(built) as session:
        feedback = recording_feedback(session, "r1")
    assert [a.model for a in feedback.assessments] == [MODEL, "human:expert"]
    model, expert = feedback.assessments
    assert model.scores == {"accuracy": 6, "fluency": 7, "prosodic": 8, "total": 7}
    assert [(w.text, w.expected, w.heard, w.errors, w.marked_errors) for w in model.words] == [
        ("WE", ["W", "IY"], ["W", "IY"], 0, ""),
        ("BEAR", ["B", "EH", "R"], ["B", "AE"], 2, "EH→AE -R"),
    ]
    assert [w.errors for w in expert.words] == [0, 0]


def test_unknown_and_unscored_recordings(built: str) -> None:
    with session_scope(built) as session:
        with pytest.raises(UnknownRecording, match="'nope'"):
            recording_feedback(session, "nope")
        failed = recording_feedback(session, "r2")
    assert (failed.status, failed.failure_reason, failed.detail, failed.assessments) == (
        "failed",
        "audio_silent",
        "nothing above -60 dB",
        [],
    )


def test_the_read_only_role_reads_the_feedback_view(built: str) -> None:
    with _connect_as_reporter(built) as conn:
        rows = conn.execute(
            "SELECT model, word, expected, heard, errors, marked_errors FROM report_recording_feedback "
            "WHERE recording_id = 'r1' ORDER BY model, word_index"
        ).fetchall()
    assert rows == [
        ("human:expert", "WE", "W IY", "W IY", 0, None),
        ("human:expert", "BEAR", "B EH R", "B EH R", 0, None),
        (MODEL, "WE", "W IY", "W IY", 0, None),
        (MODEL, "BEAR", "B EH R", "B AE", 2, "EH→AE -R"),
    ]


def test_show_prints_scores_and_marks_the_errors(built: str) -> None:
    result = runner.invoke(app, ["show", "r1"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "recording r1 · learner kim · class 4a" in out
    assert "accuracy 6  fluency 7  prosodic 8  total 7" in out
    assert "accuracy 9  fluency 9  prosodic 9  total 9" in out
    (bear,) = [line for line in out.splitlines() if line.startswith("BEAR") and "AE" in line]
    assert bear.split() == ["BEAR", "B", "EH", "R", "B", "AE", "EH→AE", "-R"]
    only_expert = runner.invoke(app, ["show", "r1", "--model", "human:expert"]).stdout
    assert MODEL not in only_expert
    failed = runner.invoke(app, ["show", "r2"])
    assert "status: failed: audio_silent (nothing above -60 dB)" in failed.stdout
    unknown = runner.invoke(app, ["show", "nope"])
    assert unknown.exit_code == 2 and "no recording with id 'nope'" in unknown.stderr


def test_show_as_json_is_the_assessment_format(built: str) -> None:
    result = runner.invoke(app, ["show", "r1", "--format", "json"])
    body = json.loads(result.stdout)
    assert body["status"] == "queued" and body["model"]["name"] == MODEL
    bear = body["words"][1]
    assert (bear["text"], bear["expected"], bear["actual"], bear["errors"]) == (
        "BEAR",
        ["B", "EH", "R"],
        ["B", "AE"],
        2,
    )
    assert bear["ops"][1] == {"op": "substitution", "expected": "EH", "actual": "AE"}


def test_the_client_gives_an_assessment_and_waits_for_a_run(built: str) -> None:
    client = ScoringClient(Settings(database_url=built))
    assert client.assessment("r1")["scores"]["total"] == 7
    assert client.assessment("r1", model="human:expert")["scores"]["total"] == 9
    failed = client.assessment("r2")
    assert (failed["status"], failed["reason"], failed["scores"]) == ("failed", "audio_silent", None)
    with pytest.raises(UnknownRecording):
        client.assessment("nope")
    with session_scope(built) as session:
        from db.runs import get_or_create_run

        run_id = get_or_create_run(session, "night")
        add_recording(session, "q1", "kim", "4a", WHEN, run_id=run_id)
    with pytest.raises(TimeoutError, match="run night still has 1 recordings"):
        client.wait("night", timeout=0.5, poll_seconds=0.1)
    with session_scope(built) as session:
        session.execute(update(Recording).where(Recording.source_id == "q1").values(status=RecordingStatus.scored))
    assert client.wait(run_id, timeout=5).counts["scored"] == 1
