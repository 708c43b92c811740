"""The services a benchmark runs against: a migrated throwaway database, a local S3 server and
a Redis database, made and removed around the measurement so that runs never share state."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
from alembic import command

from migrations import alembic_config
from pronscore.settings import Settings
from tests.pipeline import free_port_block

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"


@contextmanager
def bench_settings(work: Path, **overrides: object) -> Iterator[Settings]:
    """Settings pointing at a fresh migrated database, an emptied Redis database 13 and an S3
    server storing under `work`; all three are cleaned up on exit."""
    port = free_port_block()
    server = subprocess.run(
        [str(ROOT / "scripts" / "s3-server"), str(work / "s3"), str(port), "bench", "bench-secret"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    database = f"pronscore_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        settings = Settings(
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
            redis_url=REDIS_URL,
            s3_endpoint_url=f"http://127.0.0.1:{port}",
            s3_access_key_id="bench",
            s3_secret_access_key="bench-secret",
            **overrides,
        )
        command.upgrade(alembic_config(settings.database_url), "head")
        redis.Redis.from_url(REDIS_URL).flushdb()
        yield settings
    finally:
        subprocess.run(["kill", server.stdout.strip()], check=False)
        redis.Redis.from_url(REDIS_URL).flushdb()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
