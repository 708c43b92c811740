"""Named report queries over the report views; the SQL lives beside this file, one `.sql` file
per report, and each report is declared once in `catalog.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.reports.catalog import REPORT_SPECS
from db.reports.spec import FILTERS, ReportSpec, flag

REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in REPORT_SPECS}


class ReportError(ValueError):
    """A report request that cannot be answered: unknown name or a filter it does not take."""


@dataclass(frozen=True)
class ReportFilters:
    class_id: str | None = None
    learner_id: str | None = None
    recording_id: str | None = None
    run: str | None = None
    since: date | None = None
    model: str | None = None
    top: int = 10

    def given(self) -> set[str]:
        return {name for name in FILTERS if getattr(self, name) is not None}

    def parameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*FILTERS, "top")}


@dataclass(frozen=True)
class ReportResult:
    columns: list[str]
    rows: list[dict[str, Any]]


def read_sql(file_name: str) -> str:
    """The text of one of this package's SQL files."""
    return resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")


def report_spec(name: str) -> ReportSpec:
    spec = REPORTS.get(name)
    if spec is None:
        raise ReportError(f"unknown report {name!r}; choose one of {', '.join(REPORTS)}")
    return spec


def run_report(session: Session, name: str, filters: ReportFilters) -> ReportResult:
    spec = report_spec(name)
    unsupported = filters.given() - spec.filters
    if unsupported:
        flags = ", ".join(flag(f) for f in FILTERS if f in unsupported)
        raise ReportError(f"report {name} does not take {flags}")
    result = session.execute(text(read_sql(spec.sql_file)), filters.parameters())
    columns = list(result.keys())
    return ReportResult(columns, [dict(zip(columns, row, strict=True)) for row in result])


def newest_model(session: Session) -> str | None:
    """The model version reports show by default: the newest machine model with assessments,
    else the newest human rater with some (None when nothing is assessed). Read from the
    `models` report, so the read-only role chooses alike."""
    preferred = [row for row in run_report(session, "models", ReportFilters()).rows if row["assessments"]]
    return preferred[0]["model"] if preferred else None
