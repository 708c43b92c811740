"""Named report queries; the SQL lives beside this file, one `.sql` file per report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from db.models import Assessment, ModelVersion


@dataclass(frozen=True)
class ReportSpec:
    name: str
    sql_file: str
    filters: frozenset[str]
    description: str


REPORTS = {
    spec.name: spec
    for spec in (
        ReportSpec(
            "learner-progress",
            "learner_progress.sql",
            frozenset({"class_id", "learner_id", "since", "model"}),
            "per learner and ISO week: recordings, mean scores, change since the first week",
        ),
        ReportSpec(
            "class-weak-phones",
            "class_weak_phones.sql",
            frozenset({"class_id", "since", "model"}),
            "per class: most frequent expected->actual phone confusions and deletions",
        ),
        ReportSpec(
            "learner-words",
            "learner_words.sql",
            frozenset({"class_id", "learner_id", "since", "model"}),
            "per learner: the words with the lowest accuracy, and how often each was mispronounced or omitted",
        ),
        ReportSpec(
            "run-summary",
            "run_summary.sql",
            frozenset({"since", "model"}),
            "per run: counts by status and failure reason, audio hours, scoring rate",
        ),
    )
}


class ReportError(ValueError):
    """A report request that cannot be answered: unknown name or a filter it does not take."""


@dataclass(frozen=True)
class ReportFilters:
    class_id: str | None = None
    learner_id: str | None = None
    since: date | None = None
    model: str | None = None
    top: int = 10

    def given(self) -> set[str]:
        return {name for name in ("class_id", "learner_id", "since", "model") if getattr(self, name) is not None}


@dataclass(frozen=True)
class ReportResult:
    columns: list[str]
    rows: list[dict[str, Any]]


def read_sql(file_name: str) -> str:
    """The text of one of this package's SQL files."""
    return resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")


def run_report(session: Session, name: str, filters: ReportFilters) -> ReportResult:
    spec = REPORTS.get(name)
    if spec is None:
        raise ReportError(f"unknown report {name!r}; choose one of {', '.join(REPORTS)}")
    unsupported = filters.given() - spec.filters
    if unsupported:
        flags = ", ".join("--" + f.removesuffix("_id") for f in sorted(unsupported))
        raise ReportError(f"report {name} does not take {flags}")
    result = session.execute(
        text(read_sql(spec.sql_file)),
        {
            "class_id": filters.class_id,
            "learner_id": filters.learner_id,
            "since": filters.since,
            "model": filters.model,
            "top": filters.top,
        },
    )
    columns = list(result.keys())
    return ReportResult(columns, [dict(zip(columns, row, strict=True)) for row in result])


def newest_model(session: Session) -> str | None:
    """The model version reports show by default: the newest machine model with assessments,
    else the newest human rater with some (None when nothing is assessed)."""
    return session.execute(
        select(ModelVersion.name)
        .where(exists().where(Assessment.model_version_id == ModelVersion.id))
        .order_by(ModelVersion.is_human, ModelVersion.created_at.desc(), ModelVersion.id.desc())
        .limit(1)
    ).scalar()
