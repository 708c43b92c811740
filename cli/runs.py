"""`pronscore failures`: what failed in a run, and why."""

from __future__ import annotations

from dataclasses import asdict, fields

import typer

from cli.common import settings
from cli.output import Column, OutputFormat, table_console, write_rows
from db.runs import FailedRecording, failed_recordings, find_run
from db.session import session_scope
from scoring.failures import FailureReason

RunArgument = typer.Argument(None, help="Run name or id (default: the newest run).")

FAILURE_COLUMNS = (
    Column("recording_id", "recording"),
    Column("learner_id", "learner"),
    Column("class_id", "class", wide_only=True),
    Column("reason"),
    Column("detail"),
    Column("attempts", wide_only=True),
    Column("failed_at", "failed at", wide_only=True),
)


def failures(
    run: str | None = RunArgument,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv or json."),
    wide: bool = typer.Option(False, "--wide", help="Every column in the table."),
) -> None:
    """List the run's failed recordings with their reason and the error's detail; the table
    ends with what each reason means and what to do."""
    with session_scope(settings().database_url) as session:
        found = find_run(session, run)
        name = found.name
        rows = [asdict(row) for row in failed_recordings(session, found.id)]
    columns = [f.name for f in fields(FailedRecording)]
    write_rows(
        rows, columns, output, title=f"run {name}: {len(rows)} failed recordings", shown=FAILURE_COLUMNS, wide=wide
    )
    if output is OutputFormat.table:
        _explain({row["reason"] for row in rows})


def _explain(reasons: set[str | None]) -> None:
    """What each reason in the table means and what to do about it, under the table."""
    known = {reason.value: reason for reason in FailureReason}
    console = table_console()
    for name in sorted(reason for reason in reasons if reason in known):
        console.print(f"{name}: {known[name].explanation}", highlight=False, markup=False, soft_wrap=True)
