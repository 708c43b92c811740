"""Outages heal: the store or the database going away for longer than the old retry budget
costs no recording anything. Real worker process, real S3 server and PostgreSQL, both really
taken away."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from db.models import Assessment, Batch, Recording
from db.session import session_scope
from producer.client import ScoringClient
from pronscore.settings import get_settings
from tests.conftest import ADMIN_DSN
from tests.pipeline import ROOT, S3Server, WorkerProcess, counts, short_sample, wait_for_run

# Each of these outages outlasts the old budget: three claims of a batch, each charging its
# recordings an attempt, spent within seconds by the task's retries.
CLAIMS_DURING_OUTAGE = 5


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[S3Server]:
    """An S3 server of this test's own, so taking it away disturbs no other test."""
    server = S3Server.start(tmp_path / "s3")
    yield server
    server.stop()


@pytest.fixture
def outage_env(pipeline_env: dict, own_store: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "PRONSCORE_S3_ENDPOINT_URL": own_store.endpoint,
        "PRONSCORE_RETRY_BACKOFF_SECONDS": "0.2",
        "PRONSCORE_RETRY_BACKOFF_MAX_SECONDS": "1",
        "PRONSCORE_RETRY_HORIZON_SECONDS": "300",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return {**pipeline_env, **values}


def _claims(database_dsn: str) -> int:
    """The most claims of one batch so far, or CLAIMS_DURING_OUTAGE once nothing is left to do
    (as when recordings fail for the attempts an outage cost them)."""
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        claims = conn.execute("SELECT coalesce(max(attempts), 0) FROM batches").fetchone()[0]
        left = conn.execute("SELECT count(*) FROM recordings WHERE status IN ('queued', 'scoring')").fetchone()[0]
    return claims if left else max(claims, CLAIMS_DURING_OUTAGE)


def _assert_all_scored_once_at_no_cost(run: str, expected: int) -> None:
    assert wait_for_run(run, expected, timeout=180) == {"scored": expected}
    with session_scope(get_settings().database_url) as session:
        assert set(session.execute(select(Recording.attempts)).scalars()) == {0}, "no attempt was charged"
        per_recording = session.execute(select(func.count()).select_from(Assessment)).scalar_one()
        assert per_recording == expected
        assert max(session.execute(select(Batch.attempts)).scalars()) >= CLAIMS_DURING_OUTAGE


def test_a_store_outage_costs_no_recording_anything(
    outage_env: dict, own_store: S3Server, worker_process: WorkerProcess
) -> None:
    worker_process.stop()
    ScoringClient().enqueue(short_sample(8), run="night-store-down")
    own_store.stop()
    worker_process.ensure_running(outage_env)
    dsn = outage_env["PRONSCORE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + 120
    while _claims(dsn) < CLAIMS_DURING_OUTAGE:
        assert time.monotonic() < deadline, "the worker never retried"
        time.sleep(0.2)
    own_store.restart()
    _assert_all_scored_once_at_no_cost("night-store-down", 8)


def _retries_logged(worker: WorkerProcess) -> int:
    return worker.log_path.read_text().count("retry: Retry in") if worker.log_path.exists() else 0


def test_a_database_outage_costs_no_recording_anything(outage_env: dict, worker_process: WorkerProcess) -> None:
    worker_process.stop()
    ScoringClient().enqueue(short_sample(8), run="night-db-down")
    dsn = outage_env["PRONSCORE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    name = dsn.rsplit("/", 1)[1]
    deadline = time.monotonic() + 180
    # First the database refuses every connection: the worker cannot even claim a batch.
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            retries_before = _retries_logged(worker_process)
            worker_process.ensure_running(outage_env)
            while _retries_logged(worker_process) < retries_before + CLAIMS_DURING_OUTAGE:
                assert time.monotonic() < deadline, "the worker never retried"
                time.sleep(0.2)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    # Then every claim succeeds and every completion dies: the worker's connections are cut
    # while it writes its results (held up by a lock on the assessments table).
    deadline = time.monotonic() + 180
    with psycopg.connect(dsn) as locker, psycopg.connect(dsn, autocommit=True) as admin:
        locker.execute("LOCK TABLE assessments IN ACCESS EXCLUSIVE MODE")
        while _claims(dsn) < CLAIMS_DURING_OUTAGE:
            assert time.monotonic() < deadline, "the worker never came back"
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid NOT IN (%s, pg_backend_pid())",
                (locker.info.backend_pid,),
            )
            time.sleep(0.05)
        locker.rollback()
    _assert_all_scored_once_at_no_cost("night-db-down", 8)


# Two draining workers and a database that goes away for longer than the lease while one of them
# holds the night's batch, again and again: the holder can neither renew its lease nor give the
# batch back, the lease runs out, and the other worker, once the database answers, must not take
# the batch over as if its holder had crashed. Which worker meets the expired lease first is a
# race; the test settles it the way the issue lost it: the holder comes back a moment after the
# other worker (paused, as a worker sleeping out a long retry backoff is).
OUTAGES = 2
LEASE_SECONDS = 5  # the shortest the settings allow
OUTAGE_SECONDS = LEASE_SECONDS + 2
HOLDER_LATE_SECONDS = 3  # well inside a lease: a worker this late is alive, not dead


@pytest.fixture
def two_workers(
    outage_env: dict, worker_process: WorkerProcess, tmp_path: Path
) -> Iterator[Callable[[], list[subprocess.Popen]]]:
    """Starts two `pronscore worker --drain` processes, each in a process group of its own."""
    worker_process.stop()
    env = {
        **outage_env,
        "PRONSCORE_LEASE_SECONDS": str(LEASE_SECONDS),
        "PRONSCORE_RETRY_BACKOFF_SECONDS": "2",
        "PRONSCORE_RETRY_BACKOFF_MAX_SECONDS": "2",
    }
    started: list[subprocess.Popen] = []

    def start() -> list[subprocess.Popen]:
        for index in range(2):
            log = (tmp_path / f"worker-{index}.log").open("w")
            command = [str(ROOT / ".venv" / "bin" / "pronscore"), "worker", "--drain", "--drain-interval", "0.5"]
            started.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )
        return started

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _holder(dsn: str) -> str | None:
    """The lease owner of the running batch, if one is running."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT lease_owner FROM batches WHERE status = 'running'").fetchone()
    return row[0] if row else None


def _next_holder(dsn: str, workers: list[subprocess.Popen], run: str, recordings: int) -> str | None:
    """The lease owner of the batch once a worker holds it; None once the run is finished."""
    deadline = time.monotonic() + 120
    while (holder := _holder(dsn)) is None:
        done = counts(run)
        if done.get("scored", 0) + done.get("failed", 0) == recordings:
            return None
        assert time.monotonic() < deadline, "no worker took the batch"
        assert all(worker.poll() is None for worker in workers), "a worker exited early"
        time.sleep(0.05)
    return holder


def test_database_outages_longer_than_the_lease_cost_two_draining_workers_nothing(
    outage_env: dict, two_workers: Callable[[], list[subprocess.Popen]]
) -> None:
    rows = short_sample(4)
    settings = get_settings().model_copy(update={"batch_audio_seconds": 1000.0})
    ScoringClient(settings).enqueue(rows, run="night-db-away")
    dsn = outage_env["PRONSCORE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    name = dsn.rsplit("/", 1)[1]
    workers = two_workers()
    outages = 0
    while outages < OUTAGES and (holder := _next_holder(dsn, workers, "night-db-away", len(rows))) is not None:
        outages += 1
        late = os.getpgid(int(holder.rsplit(":", 1)[1]))
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                time.sleep(OUTAGE_SECONDS)
                os.killpg(late, signal.SIGSTOP)
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        try:
            back = time.monotonic()
            while time.monotonic() - back < HOLDER_LATE_SECONDS and _holder(dsn) in (None, holder):
                time.sleep(0.05)
        finally:
            os.killpg(late, signal.SIGCONT)
    assert wait_for_run("night-db-away", len(rows), timeout=180) == {"scored": len(rows)}
    with session_scope(get_settings().database_url) as session:
        charged = session.execute(select(Recording.source_id).where(Recording.attempts > 0)).scalars().all()
        assert charged == [], "an outage charged these recordings as crashes"
        per_recording = session.execute(
            select(Assessment.recording_id, func.count()).group_by(Assessment.recording_id)
        ).all()
        assert len(per_recording) == len(rows) and {n for _, n in per_recording} == {1}, "each scored once"
    assert outages == OUTAGES, "the batch was held at every outage"
    for worker in workers:
        # A worker holding a retry for later waits out Celery's soft shutdown (60 s) before it exits.
        assert worker.wait(timeout=120) == 0, "a draining worker exits once all is done"
