"""Migration 0007 moves failures out of `assessments.flags` and `recordings.last_error` into
columns of their own, and its downgrade puts them back, on a database holding old-shape rows."""

import json
import os

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from migrations import alembic_config
from tests.conftest import create_database, drop_database

REVISION = "0007"

OLD_ROWS = """
INSERT INTO learners (id, external_id, class_id) VALUES (1, 'kim', '4a');
INSERT INTO model_versions (id, name, is_human, decoding, meaningless)
VALUES (1, 'm/joint-v1', false, '{}', false), (2, 'human:expert', true, '{}', false);
INSERT INTO recordings (id, source_id, sha256, learner_id, storage_uri, reference_text, submitted_at, status,
                        attempts, failure_reason, last_error)
VALUES (1, 'r1', 'a', 1, 's3://b/a', 'HELLO', '2026-09-07', 'scored', 0, NULL, NULL),
       (2, 'r2', 'b', 1, 's3://b/b', 'HELLO', '2026-09-07', 'failed', 0, 'unparseable_output', 'missing total'),
       (3, 'r3', 'c', 1, 's3://b/c', 'HELLO', '2026-09-07', 'failed', 0, 'audio_silent', 'peak below -60 dBFS');
INSERT INTO assessments (id, recording_id, model_version_id, status, accuracy, fluency, prosodic, total, flags)
VALUES (1, 1, 1, 'scored', 7, 8, 7, 7, '{"flags": ["clipped:accuracy"], "failure": null}'),
       (2, 2, 1, 'unparseable', NULL, NULL, NULL, NULL, '{"flags": ["salvaged"], "failure": "missing total"}'),
       (3, 1, 2, 'scored', 7, 8, 7, 7, '{}');
"""


@pytest.fixture
def database_before() -> tuple[str, str]:
    """A database migrated to the revision before 0007, holding rows in the old shape."""
    name = f"pronscore_test_failure_migration_{os.getpid()}"
    url = create_database(name)
    config = alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    command.upgrade(config, before)
    try:
        yield url, before
    finally:
        drop_database(name)


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(query).fetchall()


def test_failures_move_to_their_columns_and_back(database_before: tuple[str, str]) -> None:
    url, before = database_before
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(OLD_ROWS)
    old_flags = _rows(url, "SELECT id, flags FROM assessments ORDER BY id")

    command.upgrade(alembic_config(url), REVISION)
    assert _rows(url, "SELECT id, failure_reason, failure_detail FROM recordings ORDER BY id") == [
        (1, None, None),
        (2, "unparseable_output", "missing total"),
        (3, "audio_silent", "peak below -60 dBFS"),
    ]
    assert _rows(
        url, "SELECT id, status::text, failure_reason, failure_detail, flags FROM assessments ORDER BY id"
    ) == [
        (1, "scored", None, None, ["clipped:accuracy"]),
        (2, "unparseable", "unparseable_output", "missing total", ["salvaged"]),
        (3, "scored", None, None, []),
    ]
    with (
        pytest.raises(psycopg.errors.CheckViolation),
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn,
    ):
        conn.execute("UPDATE assessments SET status = 'unparseable' WHERE id = 1")

    command.downgrade(alembic_config(url), before)
    assert _rows(url, "SELECT id, failure_reason, last_error FROM recordings ORDER BY id") == [
        (1, None, None),
        (2, "unparseable_output", "missing total"),
        (3, "audio_silent", "peak below -60 dBFS"),
    ]
    restored = _rows(url, "SELECT id, flags FROM assessments ORDER BY id")
    assert restored[:2] == old_flags[:2], "the old shape, failure key and all"
    assert restored[2] == (3, json.loads('{"flags": [], "failure": null}'))
