"""The nightly job with the GOP engine: enqueue, a real worker process, per-word scores in the reports.

It uses the session's one worker process with PRONSCORE_ENGINE=gop added to its settings (the
harness restarts it when its settings change; this module runs after the Phi-4 pipeline tests,
so the worker is restarted once)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from db.models import Assessment, ModelVersion, PhoneScore, Recording, WordScore
from db.session import session_scope
from producer.client import ScoringClient
from pronscore.settings import get_settings
from tests.pipeline import WorkerProcess, short_sample, wait_for_run


@pytest.fixture
def gop_env(pipeline_env: dict, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("PRONSCORE_ENGINE", "gop")
    get_settings.cache_clear()
    return {**pipeline_env, "PRONSCORE_ENGINE": "gop"}


def test_gop_scores_the_night_with_word_and_phone_scores_and_fails_noise_alone(
    gop_env: dict, worker_process: WorkerProcess, tmp_path: Path
) -> None:
    rows = short_sample(4)
    noise = tmp_path / "noise.wav"
    soundfile.write(noise, (np.random.default_rng(0).standard_normal(48_000) * 0.2).astype(np.float32), 16_000)
    rows.append({**rows[0], "recording_id": "noise", "audio": str(noise)})
    # The GOP worker first: a worker of an earlier module, still running, would take the batch.
    worker_process.ensure_running(gop_env)
    ScoringClient().enqueue(rows, run="night-gop")

    assert wait_for_run("night-gop", 5) == {"scored": 4, "failed": 1}
    with session_scope(get_settings().database_url) as session:
        reasons = dict(session.execute(select(Recording.source_id, Recording.failure_reason)).all())
        assert reasons["noise"] == "alignment_failed"
        model = session.execute(select(ModelVersion)).scalar_one()
        assert model.task_format in {"gop-v2", "gop-nn-v2"} and model.adapter_sha256 and not model.meaningless
        assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == 4
        words = session.execute(select(func.count()).select_from(WordScore)).scalar_one()
        assert words == sum(len(row["text"].split()) for row in rows[:4])
        assert session.execute(select(func.count()).select_from(PhoneScore)).scalar_one() > words

    report = CliRunner().invoke(app, ["report", "learner-words", "--format", "json", "--top", "2"])
    assert report.exit_code == 0, report.output
    found = json.loads(report.stdout)
    assert found and {r["learner_id"] for r in found} == {row["learner_id"] for row in rows[:4]}
    assert all(0 <= r["accuracy"] <= 10 and r["rank"] <= 2 for r in found)
    progress = CliRunner().invoke(app, ["report", "learner-progress", "--format", "json"])
    assert all(r["accuracy"] is not None for r in json.loads(progress.stdout) if r["recordings"])
    summary = CliRunner().invoke(app, ["report", "run-summary", "--format", "json"])
    assert '"alignment_failed": 1' in summary.stdout

    # A GOP worker runs a process per core; its metrics are the sum over them.
    port = gop_env["PRONSCORE_METRICS_PORT"]
    exposed = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "pronscore_recordings_scored_total 4.0" in exposed
    assert 'pronscore_recordings_failed_total{reason="alignment_failed"} 1.0' in exposed


def _results_by_source(run: str) -> dict[str, tuple]:
    """Each recording's stored result: its scores, transcripts, word and phone scores."""
    with session_scope(get_settings().database_url) as session:
        found = {}
        for recording, assessment in session.execute(
            select(Recording, Assessment).join(Assessment, Assessment.recording_id == Recording.id)
        ).all():
            words = session.execute(
                select(WordScore.word_index, WordScore.accuracy, WordScore.error_type)
                .where(WordScore.assessment_id == assessment.id)
                .order_by(WordScore.word_index)
            ).all()
            phones = session.execute(
                select(PhoneScore.position, PhoneScore.score, PhoneScore.gop, PhoneScore.heard)
                .where(PhoneScore.assessment_id == assessment.id)
                .order_by(PhoneScore.position)
            ).all()
            scores = (assessment.accuracy, assessment.fluency, assessment.prosodic, assessment.total)
            transcripts = (assessment.word_transcript, assessment.phoneme_transcript)
            found[recording.source_id] = (scores, transcripts, [tuple(w) for w in words], [tuple(p) for p in phones])
        return found


def test_copies_of_a_recording_get_identical_results_whatever_the_worker_scored_before(
    gop_env: dict, worker_process: WorkerProcess
) -> None:
    """Four recordings enqueued three times under new ids, each copy in another order: every
    copy gets the same scores, words and phones as the others."""
    rows = short_sample(4)
    orders = [rows, rows[::-1], rows[2:] + rows[:2]]
    copies = [
        {**row, "recording_id": f"copy{n}-{row['recording_id']}"} for n, order in enumerate(orders) for row in order
    ]
    # The GOP worker first: a worker of an earlier module, still running, would take the batch.
    worker_process.ensure_running(gop_env)
    ScoringClient().enqueue(copies, run="night-copies")

    assert wait_for_run("night-copies", len(copies)) == {"scored": len(copies)}
    found = _results_by_source("night-copies")
    for row in rows:
        results = [found[f"copy{n}-{row['recording_id']}"] for n in range(len(orders))]
        assert results[0][3], "phones are stored"
        assert results[1:] == [results[0]] * (len(orders) - 1), row["recording_id"]
