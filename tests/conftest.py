"""Shared fixtures: a throwaway PostgreSQL database per test session, migrated to head."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from db.session import get_engine, session_scope
from migrations import alembic_config
from pronscore.settings import get_settings

if TYPE_CHECKING:
    from tests.pipeline import S3Server, WorkerProcess

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for a model hub

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "speechocean762-sample"
ADMIN_DSN = os.environ.get("PRONSCORE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Test sessions running side by side on one machine each need a Redis database of their own.
REDIS_DB = int(os.environ.get("PRONSCORE_TEST_REDIS_DB", "14"))
TABLES = "phone_diffs, assessments, recordings, batches, runs, model_versions, learners, workers"


# Fixtures that reach a real PostgreSQL, Redis or S3 server; a test using any of them is an
# integration test, marked here in one place (`pytest -m "not integration"` runs the rest).
SERVICE_FIXTURES = frozenset({"database_url", "clean_db", "session", "s3_server", "pipeline_env", "no_worker"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def create_database(name: str) -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database of this test session's own, also exported as the settings' URL."""
    name = f"pronscore_test_{os.getpid()}"
    url = create_database(name)
    os.environ["PRONSCORE_DATABASE_URL"] = url
    get_settings.cache_clear()
    command.upgrade(alembic_config(url), "head")
    yield url
    get_engine(url).dispose()
    drop_database(name)


@pytest.fixture
def clean_db(database_url: str) -> Iterator[str]:
    """The session database, emptied before the test."""
    with get_engine(database_url).begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield database_url


@pytest.fixture
def session(clean_db: str) -> Iterator[Session]:
    with session_scope(clean_db) as session:
        yield session


def _checkpoint(teach_steps: int) -> Path:
    """The tiny checkpoint, built once per version of the code that shapes it and kept under
    var/test-cache, so repeated test sessions on one machine skip the minute of CPU it costs."""
    import hashlib
    import importlib.metadata
    import shutil

    from training.tiny import write_tiny_checkpoint

    # What `write_tiny_checkpoint` runs: the teaching loop, its tokenizer and prompt embeddings.
    sources = [
        *(ROOT / "engines" / "phi4mm" / name for name in ("inputs.py", "audio_encoder.py", "loading.py", "lora.py")),
        *(ROOT / "training" / name for name in ("tiny.py", "tokenizer.py", "examples.py")),
        *sorted((ROOT / "scoring").glob("*.py")),
        *sorted((ROOT / "scoring" / "data").iterdir()),
        SAMPLE_DIR / "labels.jsonl",
    ]
    digest = hashlib.sha256(str(teach_steps).encode())
    for package in ("torch", "transformers", "peft", "tokenizers"):
        digest.update(importlib.metadata.version(package).encode())
    for path in sources:
        digest.update(path.read_bytes())
    cached = ROOT / "var" / "test-cache" / f"tiny-{teach_steps}-{digest.hexdigest()[:16]}"
    if not (cached / "config.json").is_file():
        building = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        write_tiny_checkpoint(building, SAMPLE_DIR / "labels.jsonl", teach_steps=teach_steps)
        try:
            building.rename(cached)
        except OSError:  # another test session finished the same checkpoint first
            shutil.rmtree(building, ignore_errors=True)
    return cached


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The tiny checkpoint, taught the answer format."""
    return _checkpoint(teach_steps=200)


@pytest.fixture(scope="session")
def untaught_model() -> Path:
    """The tiny checkpoint with pure random weights: its outputs vary with the input and never parse."""
    return _checkpoint(teach_steps=0)


def sample_wav(index: int = 0) -> tuple[Path, str]:
    """A sample recording and its reference text."""
    import json

    label = json.loads((SAMPLE_DIR / "labels.jsonl").read_text().splitlines()[index])
    return SAMPLE_DIR / label["audio"], label["text"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    from tests.pipeline import S3Server

    server = S3Server.start(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def worker_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    from tests.pipeline import WorkerProcess

    worker = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def metrics_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pipeline_env(
    clean_db: str, s3_server: S3Server, tiny_model: Path, metrics_port: int, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Settings of producer and worker in integration tests: the test database, Redis database
    REDIS_DB (emptied), a fresh bucket on the session's S3 server, and the tiny model."""
    import redis

    values = {
        "PRONSCORE_DATABASE_URL": clean_db,
        "PRONSCORE_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "PRONSCORE_S3_ENDPOINT_URL": s3_server.endpoint,
        "PRONSCORE_S3_ACCESS_KEY_ID": s3_server.access_key,
        "PRONSCORE_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "PRONSCORE_S3_BUCKET": f"pronscore-test-{uuid.uuid4().hex[:10]}",
        "PRONSCORE_MODEL": str(tiny_model),
        "PRONSCORE_BATCH_AUDIO_SECONDS": "15",
        "PRONSCORE_LEASE_SECONDS": "5",
        "PRONSCORE_METRICS_PORT": str(metrics_port),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    redis.Redis.from_url(values["PRONSCORE_REDIS_URL"]).flushdb()
    yield {**os.environ}
    get_settings.cache_clear()


@pytest.fixture
def no_worker(pipeline_env: dict[str, str], worker_process: WorkerProcess) -> dict[str, str]:
    """The integration settings with the session's worker stopped, so batches stay put."""
    worker_process.stop()
    return pipeline_env
