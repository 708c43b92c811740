import psycopg
import pytest

from db.reports import REPORTS

VIEWS = sorted({view for spec in REPORTS.values() for view in spec.views})
TABLES = (
    "learners", "recordings", "runs", "batches", "model_versions", "assessments", "phone_diffs", "word_scores",
    "phone_scores",
)  # fmt: skip


def _connect_as_reporter(url: str) -> psycopg.Connection:
    dsn = url.replace("postgresql+psycopg://", "postgresql://").replace("//postgres@", "//pronscore_report@")
    return psycopg.connect(dsn, autocommit=True)


def test_report_role_reads_every_view(database_url: str) -> None:
    with _connect_as_reporter(database_url) as conn:
        for view in VIEWS:
            conn.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()


@pytest.mark.parametrize("table", TABLES)
def test_report_role_is_refused_on_base_tables(database_url: str, table: str) -> None:
    with _connect_as_reporter(database_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"DELETE FROM {table}")
    with _connect_as_reporter(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO learners (external_id) VALUES ('intruder')")


@pytest.mark.parametrize("privilege", ["INSERT", "UPDATE", "DELETE", "TRUNCATE"])
def test_report_role_holds_no_write_privilege_on_views(database_url: str, privilege: str) -> None:
    with _connect_as_reporter(database_url) as conn:
        for view in VIEWS:
            held = conn.execute("SELECT has_table_privilege('pronscore_report', %s, %s)", (view, privilege)).fetchone()
            assert held == (False,)
