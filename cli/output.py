"""Rows as a table a person reads, or as CSV or JSON a program reads.

Tables show the columns that matter unless `--wide`; numbers are right-aligned with one
decimal, times are to the minute (UTC), and every row stays on one line: a cell too long for
the terminal is cut with an ellipsis rather than wrapped.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@dataclass(frozen=True)
class Column:
    """How a table shows one field: its header, whether only `--wide` shows it, and whether it
    is a fraction shown as a percentage."""

    key: str
    header: str | None = None
    wide_only: bool = False
    percent: bool = False


def table_console() -> Console:
    """A console for tables: the terminal's width, COLUMNS when set, else 200 (piped output)."""
    wide_enough = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return Console(width=None if wide_enough else 200)


def plain(value: Any) -> Any:
    """A JSON-ready value: decimals as floats, dates and times as ISO 8601."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value * 100}" if percent else str(value)
    if isinstance(value, float | Decimal):
        return f"{float(value) * (100 if percent else 1):.1f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {count}" for key, count in value.items())
    return str(value)


def _numeric(rows: Sequence[Mapping[str, Any]], key: str) -> bool:
    values = [row.get(key) for row in rows if row.get(key) is not None]
    return bool(values) and all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values)


def build_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], shown: Sequence[Column] = (), wide: bool = False
) -> Table:
    """The table of `rows`: the `shown` columns (all of `columns` when `wide` or none given)."""
    spec = {c.key: c for c in shown}
    if wide or not shown:
        selected = [spec.get(key, Column(key)) for key in columns]
    else:
        selected = [c for c in shown if not c.wide_only and c.key in columns]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in selected:
        header = column.header or column.key.replace("_", " ")
        justify = "right" if _numeric(rows, column.key) else "left"
        table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*(cell(row.get(c.key), c.percent) for c in selected))
    return table


def write_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    output: OutputFormat,
    title: str | None = None,
    shown: Sequence[Column] = (),
    wide: bool = False,
) -> None:
    """Rows to stdout in the chosen format; CSV and JSON always carry every column."""
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps([{k: plain(row.get(k)) for k in columns} for row in rows], indent=2) + "\n")
    elif output is OutputFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, Mapping) else plain(v) for k, v in row.items()})
    else:
        console = table_console()
        if title:
            console.print(title, highlight=False, markup=False)
        console.print(build_table(rows, columns, shown, wide))
        if not rows:
            console.print("[dim]no rows[/]")
    sys.stdout.flush()
