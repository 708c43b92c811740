import os

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from db.models import Base
from db.reports import REPORTS
from migrations import alembic_config, include_object
from tests.conftest import create_database, drop_database


def _objects(url: str) -> dict[str, set[str]]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
        types = {
            r[0]
            for r in conn.execute(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype = 'e'"
            )
        }
    return {"tables": tables, "views": views, "types": types}


def test_upgrade_downgrade_upgrade_leaves_no_drift() -> None:
    name = f"pronscore_test_migrations_{os.getpid()}"
    url = create_database(name)
    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        created = _objects(url)
        assert {"learners", "recordings", "assessments", "phone_diffs", "batches", "runs", "word_scores",
                "phone_scores"} <= created["tables"]  # fmt: skip
        assert created["views"] == {view for spec in REPORTS.values() for view in spec.views}

        command.downgrade(config, "base")
        assert _objects(url) == {"tables": {"alembic_version"}, "views": set(), "types": set()}

        command.upgrade(config, "head")
        assert _objects(url) == created
        engine = create_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        engine.dispose()
    finally:
        drop_database(name)
