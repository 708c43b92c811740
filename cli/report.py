"""`pronscore report NAME`: the named SQL reports as a table, CSV or JSON, with an optional chart."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.common import console, err_console, fail, settings
from db.reports import REPORTS, ReportError, ReportFilters, ReportResult, run_report
from db.session import session_scope


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _parse_since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--since must be a date like 2026-09-01, not {value!r}")


def _print(result: ReportResult, output: OutputFormat, title: str) -> None:
    rows = [{k: _plain(v) for k, v in row.items()} for row in result.rows]
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif output is OutputFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=result.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()} for r in rows)
    else:
        table = Table(title=title)
        for column in result.columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                *("" if v is None else json.dumps(v) if isinstance(v, dict) else str(v) for v in row.values())
            )
        console.print(table)
        if not rows:
            console.print("[dim]no rows[/]")


def report(
    name: str = typer.Argument(..., help=f"One of: {', '.join(REPORTS)}."),
    class_id: str | None = typer.Option(None, "--class", help="Only this class."),
    learner_id: str | None = typer.Option(None, "--learner", help="Only this learner."),
    since: str | None = typer.Option(None, "--since", help="Only from this date's week on (YYYY-MM-DD)."),
    model: str | None = typer.Option(None, "--model", help="Only this model version, e.g. human:expert."),
    top: int = typer.Option(
        10, "--top", min=1, help="class-weak-phones: confusions per class; learner-words: words per learner."
    ),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv or json."),
    plot: Path | None = typer.Option(None, "--plot", help="learner-progress: write a PNG chart here."),
) -> None:
    """Print a named report from the database's report views."""
    filters = ReportFilters(class_id, learner_id, _parse_since(since), model, top)
    if plot is not None and name != "learner-progress":
        fail("--plot draws weekly scores and works with the learner-progress report only")
    try:
        with session_scope(settings().database_url) as session:
            result = run_report(session, name, filters)
    except ReportError as error:
        fail(str(error))
    _print(result, output, title=f"{name}: {REPORTS[name].description}")
    sys.stdout.flush()
    if plot is not None:
        from pronscore.plots import plot_progress

        try:
            plot_progress(result.rows, plot, subject=learner_id or class_id or "all learners")
        except ValueError as error:
            fail(str(error))
        err_console.print(f"chart written to {plot}", highlight=False)
