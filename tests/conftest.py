"""Shared fixtures: a throwaway PostgreSQL database per test session, migrated to head."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from db.session import get_engine, session_scope
from migrations import alembic_config
from pronscore.settings import get_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for a model hub

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "speechocean762-sample"
ADMIN_DSN = os.environ.get("PRONSCORE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = "phone_diffs, assessments, recordings, batches, runs, model_versions, learners"


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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint, taught the answer format, written once per test session."""
    from training.tiny import write_tiny_checkpoint

    path = tmp_path_factory.mktemp("tiny-model")
    write_tiny_checkpoint(path, SAMPLE_DIR / "labels.jsonl", teach_steps=200)
    return path


@pytest.fixture(scope="session")
def untaught_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint with pure random weights: its outputs vary with the input and never parse."""
    from training.tiny import write_tiny_checkpoint

    path = tmp_path_factory.mktemp("untaught-model")
    write_tiny_checkpoint(path, SAMPLE_DIR / "labels.jsonl", teach_steps=0)
    return path


def sample_wav(index: int = 0) -> tuple[Path, str]:
    """A sample recording and its reference text."""
    import json

    label = json.loads((SAMPLE_DIR / "labels.jsonl").read_text().splitlines()[index])
    return SAMPLE_DIR / label["audio"], label["text"]
