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
