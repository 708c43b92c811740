"""The nightly job end to end: real PostgreSQL, Redis, S3 server and a `pronscore worker` process."""

from __future__ import annotations

import io
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import redis
import soundfile
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from db.models import Assessment, Batch, BatchStatus, PhoneDiff, Recording
from db.session import session_scope
from producer.client import ScoringClient
from pronscore.queue import make_celery, send_batches
from pronscore.settings import get_settings
from pronscore.storage import AudioStore, S3Uri
from tests.pipeline import ROOT, WorkerProcess, counts, short_sample, wait_for_run
from worker.sweep import sweep


def _rows(session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _assert_exactly_once(expected: int) -> None:
    with session_scope(get_settings().database_url) as session:
        per_recording = session.execute(
            select(Assessment.recording_id, func.count()).group_by(Assessment.recording_id)
        ).all()
        assert len(per_recording) == expected
        assert {n for _, n in per_recording} == {1}
        assert _rows(session, Recording) == expected


def test_happy_path_scores_every_recording_with_phone_diffs(pipeline_env: dict, worker_process: WorkerProcess) -> None:
    rows = short_sample(8)
    result = ScoringClient().enqueue(rows, run="night-happy")
    assert (result.registered, result.already_known, result.rejected) == (8, 0, [])
    assert len(result.batches) >= 2, "15 s batches should split 8 recordings"
    worker_process.ensure_running(pipeline_env)

    assert wait_for_run("night-happy", 8) == {"scored": 8}
    _assert_exactly_once(8)
    with session_scope(get_settings().database_url) as session:
        assert _rows(session, PhoneDiff) >= sum(len(r["text"].split()) for r in rows)
        statuses = set(session.execute(select(Batch.status)).scalars())
        assert statuses == {BatchStatus.done}
    summary = CliRunner().invoke(app, ["report", "run-summary", "--format", "json"])
    assert '"scored": 8' in summary.stdout and '"failed": 0' in summary.stdout

    port = pipeline_env["PRONSCORE_METRICS_PORT"]
    exposed = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "pronscore_recordings_scored_total 8.0" in exposed
    assert "pronscore_batch_seconds_count" in exposed
    logged = [json.loads(line) for line in worker_process.log_path.read_text().splitlines() if line.startswith("{")]
    batch_logs = [entry for entry in logged if entry.get("batch_id") in result.batches]
    assert batch_logs and all(entry["level"] in {"info", "warning"} for entry in batch_logs)


def test_draining_worker_scores_everything_and_exits(pipeline_env: dict, worker_process: WorkerProcess) -> None:
    worker_process.stop()
    ScoringClient().enqueue(short_sample(5), run="night-drain")
    drained = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pronscore"), "worker", "--drain", "--drain-interval", "1"],
        env=pipeline_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert drained.returncode == 0, drained.stderr[-2000:]
    assert counts("night-drain") == {"scored": 5}


def _running_batches() -> set[int]:
    with session_scope(get_settings().database_url) as session:
        return set(session.execute(select(Batch.id).where(Batch.status == BatchStatus.running)).scalars())


def _kill_while_holding_a_batch(env: dict, worker: WorkerProcess, run: str, total: int) -> set[int]:
    """SIGKILL the worker once it has scored a batch and holds the next; the batches it held.

    Between observing a held batch and the kill, the worker may finish it and not yet have
    taken the next one: a kill that caught it between batches tests nothing, so the worker is
    restarted (it held nothing, so nothing is lost) and killed again."""
    for _ in range(5):
        worker.ensure_running(env)
        deadline = time.monotonic() + 60
        while not (counts(run).get("scored", 0) and counts(run).get("scoring", 0) and _running_batches()):
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.05)
        worker.kill()
        assert counts(run).get("scored", 0) < total, "killed too late to test anything"
        if held := _running_batches():
            return held
    raise AssertionError("every kill caught the worker between batches")


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(
    pipeline_env: dict, worker_process: WorkerProcess
) -> None:
    rows = short_sample(40)
    ScoringClient().enqueue(rows, run="night-kill")
    held = _kill_while_holding_a_batch(pipeline_env, worker_process, "night-kill", len(rows))

    broker = make_celery(get_settings())
    assert not held & set(sweep(get_settings(), broker).expired), "its lease runs until it expires"
    time.sleep(float(pipeline_env["PRONSCORE_LEASE_SECONDS"]) + 1)
    assert held <= set(sweep(get_settings(), broker).expired), "no renewals since the kill: the sweep retakes it"
    worker_process.ensure_running(pipeline_env)

    assert wait_for_run("night-kill", len(rows)) == {"scored": len(rows)}
    _assert_exactly_once(len(rows))
    with session_scope(get_settings().database_url) as session:
        charged = session.execute(select(Recording.attempts).where(Recording.batch_id.in_(held))).scalars()
        assert set(charged) == {1}, "the killed worker's batch was charged: it died holding it"


def test_same_batch_delivered_twice_writes_one_set_of_rows(pipeline_env: dict, worker_process: WorkerProcess) -> None:
    worker_process.stop()
    result = ScoringClient().enqueue(short_sample(3), run="night-twice")
    send_batches(make_celery(get_settings()), result.batches)  # every message a second time
    worker_process.ensure_running(pipeline_env)

    wait_for_run("night-twice", 3)
    deadline = time.monotonic() + 30
    client = redis.Redis.from_url(pipeline_env["PRONSCORE_REDIS_URL"])
    while client.llen("gpu") or client.hlen("unacked"):
        assert time.monotonic() < deadline, "the duplicate messages were never consumed"
        time.sleep(0.2)
    _assert_exactly_once(3)
    with session_scope(get_settings().database_url) as session:
        assert set(session.execute(select(Batch.attempts)).scalars()) == {1}


def test_flushed_redis_is_recovered_by_the_sweep(pipeline_env: dict, worker_process: WorkerProcess) -> None:
    worker_process.stop()
    result = ScoringClient().enqueue(short_sample(6), run="night-flush")
    client = redis.Redis.from_url(pipeline_env["PRONSCORE_REDIS_URL"])
    assert client.llen("gpu") == len(result.batches)
    client.flushdb()

    swept = CliRunner().invoke(app, ["sweep"])
    assert swept.exit_code == 0, swept.output
    assert f"{len(result.batches)} batches re-sent" in swept.stdout
    worker_process.ensure_running(pipeline_env)
    assert wait_for_run("night-flush", 6) == {"scored": 6}
    _assert_exactly_once(6)


def _audio_bytes(samples: np.ndarray, rate: int, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt)
    return buffer.getvalue()


def test_bad_inputs_fail_alone_with_their_reasons(
    pipeline_env: dict, worker_process: WorkerProcess, tmp_path: Path
) -> None:
    worker_process.stop()
    good = short_sample(2)
    samples, rate = soundfile.read(good[0]["audio"], dtype="float32")
    stretched = np.interp(np.arange(0, len(samples), rate / 44_100), np.arange(len(samples)), samples)
    files = {
        "corrupt": b"RIFF\x24\x00\x00\x00WAVEfmt this is not audio" * 8,
        "empty": b"",
        "two-minutes": _audio_bytes(np.full(16_000 * 120, 0.05, dtype=np.float32), 16_000, "FLAC"),
        "stereo-44k": _audio_bytes(np.stack([stretched, stretched], axis=1), 44_100),
        "vanishing": _audio_bytes(samples * 0.5, rate),  # its own content, so its own object
    }
    rows = list(good)
    for name, data in files.items():
        path = tmp_path / f"{name}.wav"
        path.write_bytes(data)
        rows.append({**good[0], "recording_id": name, "audio": str(path)})
    settings = get_settings().model_copy(update={"batch_audio_seconds": 1000.0})
    result = ScoringClient(settings).enqueue(rows, run="night-bad")
    assert len(result.batches) == 1, "all in one batch"
    with session_scope(settings.database_url) as session:
        uri = session.execute(select(Recording.storage_uri).where(Recording.source_id == "vanishing")).scalar_one()
    store = AudioStore(settings)
    store.client.delete_object(Bucket=S3Uri.parse(uri).bucket, Key=S3Uri.parse(uri).key)

    worker_process.ensure_running(pipeline_env)
    wait_for_run("night-bad", len(rows))
    with session_scope(settings.database_url) as session:
        outcome = dict(session.execute(select(Recording.source_id, Recording.failure_reason)).all())
        states = dict(session.execute(select(Recording.source_id, Recording.status)).all())
    assert {k: outcome[k] for k in files} == {
        "corrupt": "audio_unreadable",
        "empty": "audio_empty",
        "two-minutes": "audio_too_long",
        "stereo-44k": None,
        "vanishing": "object_missing",
    }
    assert states["stereo-44k"].value == "scored"
    assert all(states[row["recording_id"]].value == "scored" for row in good)


def test_a_message_taken_by_a_worker_that_died_before_claiming_is_resent(
    pipeline_env: dict, worker_process: WorkerProcess
) -> None:
    worker_process.stop()
    (batch_id,) = (
        ScoringClient(get_settings().model_copy(update={"batch_audio_seconds": 1000.0}))
        .enqueue(short_sample(2), run="night-stale")
        .batches
    )
    # A consumer takes the message without acknowledging it, then is SIGKILLed, as a worker
    # killed while still loading its model would be; the message stays in Redis's unacked set.
    taker = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-c",
            "import sys, time\n"
            "from kombu import Connection\n"
            "with Connection(sys.argv[1]) as c:\n"
            "    q = c.SimpleQueue('gpu', no_ack=False)\n"
            "    q.get(timeout=10)\n"
            "    print('taken', flush=True)\n"
            "    time.sleep(60)\n",
            pipeline_env["PRONSCORE_REDIS_URL"],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert taker.stdout.readline().strip() == "taken"
    taker.kill()
    taker.wait()
    client = redis.Redis.from_url(pipeline_env["PRONSCORE_REDIS_URL"])
    assert client.llen("gpu") == 0 and client.hlen("unacked") == 1

    fresh = CliRunner().invoke(app, ["sweep"])
    assert "0 batches re-sent" in fresh.stdout, "a just-delivered message is not lost yet"
    time.sleep(float(pipeline_env["PRONSCORE_LEASE_SECONDS"]) + 1)
    stale = CliRunner().invoke(app, ["sweep"])
    assert "1 batches re-sent" in stale.stdout
    worker_process.ensure_running(pipeline_env)
    assert wait_for_run("night-stale", 2) == {"scored": 2}
    _assert_exactly_once(2)
    with session_scope(get_settings().database_url) as session:
        assert session.get(Batch, batch_id).status == BatchStatus.done
