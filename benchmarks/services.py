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


@contextmanager
def bench_settings(work: Path, redis_db: int = 13, **overrides: object) -> Iterator[Settings]:
    """Settings pointing at a fresh migrated database, an emptied Redis database `redis_db` and
    an S3 server storing under `work`; all three are cleaned up on exit."""
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
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
            redis_url=redis_url,
            s3_endpoint_url=f"http://127.0.0.1:{port}",
            s3_access_key_id="bench",
            s3_secret_access_key="bench-secret",
            **overrides,
        )
        command.upgrade(alembic_config(settings.database_url), "head")
        redis.Redis.from_url(redis_url).flushdb()
        yield settings
    finally:
        subprocess.run(["kill", server.stdout.strip()], check=False)
        redis.Redis.from_url(redis_url).flushdb()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def service_env(settings: Settings) -> dict[str, str]:
    """The environment that points a `pronscore` subprocess at the same services as `settings`."""
    return {
        "PRONSCORE_DATABASE_URL": settings.database_url,
        "PRONSCORE_REDIS_URL": settings.redis_url,
        "PRONSCORE_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "PRONSCORE_S3_ACCESS_KEY_ID": settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else "",
        "PRONSCORE_S3_SECRET_ACCESS_KEY": (
            settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else ""
        ),
    }
