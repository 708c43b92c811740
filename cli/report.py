"""`pronscore report NAME`: the named SQL reports as a table, CSV or JSON, with an optional chart.

Score reports show one model version at a time (default: the newest machine model), so human
and model scores never average together; `--compare` adds another version's figures beside.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session

from cli.common import err_console, fail, settings
from cli.output import Column, OutputFormat, write_rows
from db.reports import REPORTS, ReportError, ReportFilters, ReportResult, newest_model, run_report
from db.session import session_scope

# Reports whose rows are scores of one model version, with the columns that identify a row and
# the figures --compare puts beside the model's.
SCORE_REPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "learner-progress": (
        ("learner_id", "class_id", "week"),
        ("recordings", "accuracy", "fluency", "prosodic", "total"),
    ),
    "class-weak-phones": (("class_id", "expected", "actual", "op"), ("occurrences", "rate")),
    "learner-words": (("learner_id", "class_id", "word"), ("readings", "accuracy")),
}

TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "learner-progress": (
        Column("learner_id", "learner"),
        Column("class_id", "class"),
        Column("iso_week", "week"),
        Column("recordings"),
        Column("accuracy"),
        Column("fluency"),
        Column("prosodic"),
        Column("total"),
        Column("total_change", "total\nchange"),
    ),
    "class-weak-phones": (
        Column("class_id", "class"),
        Column("rank"),
        Column("expected"),
        Column("actual"),
        Column("op"),
        Column("occurrences"),
        Column("expected_count", "of"),
        Column("rate", "rate %", percent=True),
    ),
    "learner-words": (
        Column("learner_id", "learner"),
        Column("class_id", "class"),
        Column("rank"),
        Column("word"),
        Column("readings"),
        Column("accuracy"),
        Column("mispronounced"),
        Column("omitted"),
        Column("insertions"),
    ),
    "run-summary": (
        Column("run"),
        Column("created_at", "created"),
        Column("finished_at", "finished"),
        Column("recordings"),
        Column("scored"),
        Column("failed"),
        Column("failures"),
        Column("audio_hours", "audio h"),
        Column("recordings_per_second", "rec/s"),
    ),
}
# With --compare, the table shows these columns, the figures of SIDE_BY_SIDE in pairs.
COMPARED_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "learner-progress": ("learner_id", "iso_week", "recordings", "accuracy", "fluency", "prosodic", "total"),
    "class-weak-phones": ("class_id", "expected", "actual", "op", "occurrences", "rate"),
    "learner-words": ("learner_id", "word", "readings", "accuracy"),
}
SIDE_BY_SIDE = {
    "learner-progress": ("accuracy", "fluency", "prosodic", "total"),
    "class-weak-phones": ("occurrences", "rate"),
    "learner-words": ("readings", "accuracy"),
}


def _parse_since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--since must be a date like 2026-09-01, not {value!r}")


def _label(model: str) -> str:
    """A short name for a model version's columns: the rater of `human:NAME`, else `compared`."""
    name = model.removeprefix("human:") if model.startswith("human:") else "compared"
    return re.sub(r"\W+", "_", name).strip("_") or "compared"


def _sort_key(row: dict[str, Any], keys: tuple[str, ...]) -> tuple:
    return tuple((row.get(k) is None, row.get(k)) for k in keys)


def side_by_side(name: str, result: ReportResult, compared: ReportResult, label: str) -> ReportResult:
    """The model's rows with the compared version's figures beside them (`LABEL_column`), keyed
    on the report's row identity; rows only one of the two has keep the other's empty."""
    keys, values = SCORE_REPORTS[name]
    extra = [f"{label}_{column}" for column in values]
    merged: dict[tuple, dict[str, Any]] = {}
    for row in result.rows:
        merged[tuple(row[k] for k in keys)] = {**row, **dict.fromkeys(extra)}
    identity = (*keys, "iso_week")
    for row in compared.rows:
        key = tuple(row[k] for k in keys)
        if key not in merged:
            merged[key] = {c: row.get(c) if c in identity else None for c in result.columns} | dict.fromkeys(extra)
        target = merged[key]
        for column in values:
            target[f"{label}_{column}"] = row[column]
    order = ("class_id", "learner_id", "week") if name == "learner-progress" else ("class_id", "rank", *keys)
    rows = sorted(merged.values(), key=lambda row: _sort_key(row, order))
    return ReportResult([*result.columns, *extra], rows)


def _compared_columns(name: str, label: str) -> tuple[Column, ...]:
    """The table's columns with --compare: each score of the model, then the compared one's."""
    spec = {c.key: c for c in TABLE_COLUMNS[name]}
    shown: list[Column] = []
    for key in COMPARED_TABLE_COLUMNS[name]:
        column = spec.get(key, Column(key))
        if key not in SIDE_BY_SIDE[name]:
            shown.append(column)
            continue
        header = (column.header or key).split("\n")[0]
        shown.append(Column(key, f"{header}\nmodel", percent=column.percent))
        shown.append(Column(f"{label}_{key}", f"{header}\n{label}", percent=column.percent))
    return tuple(shown)


def _check_plot(plot: Path | None, name: str) -> None:
    if plot is None:
        return
    if name != "learner-progress":
        fail("--plot draws weekly scores and works with the learner-progress report only")
    if not plot.parent.is_dir():
        fail(f"cannot write the chart to {plot}: the folder {plot.parent} does not exist")


def _run(
    session: Session, name: str, filters: ReportFilters, compare: str | None
) -> tuple[str | None, list[ReportResult]]:
    """The model version shown (for score reports), its result, and the compared one's."""
    if name not in SCORE_REPORTS:
        if compare is not None:
            raise ReportError(f"--compare works with {' and '.join(SCORE_REPORTS)} only")
        return filters.model, [run_report(session, name, filters)]
    model = filters.model or newest_model(session)
    results = [run_report(session, name, replace(filters, model=model or ""))]
    if compare is not None:
        if compare == model:
            raise ReportError(f"--compare names the model the report already shows ({model})")
        results.append(run_report(session, name, replace(filters, model=compare)))
    return model, results


def report(
    name: str = typer.Argument(..., help=f"One of: {', '.join(REPORTS)}."),
    class_id: str | None = typer.Option(None, "--class", help="Only this class."),
    learner_id: str | None = typer.Option(None, "--learner", help="Only this learner."),
    since: str | None = typer.Option(None, "--since", help="Only from this date's week on (YYYY-MM-DD)."),
    model: str | None = typer.Option(
        None, "--model", help="The model version whose scores to show (default: the newest model), e.g. human:expert."
    ),
    compare: str | None = typer.Option(
        None, "--compare", help="Another model version to show beside it, e.g. human:expert."
    ),
    top: int = typer.Option(
        10, "--top", min=1, max=1000, help="class-weak-phones: confusions per class; learner-words: words per learner."
    ),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv or json."),
    wide: bool = typer.Option(False, "--wide", help="Every column in the table, not only those that matter."),
    plot: Path | None = typer.Option(None, "--plot", help="learner-progress: write a PNG chart here."),
) -> None:
    """Print a named report from the database's report views."""
    filters = ReportFilters(class_id, learner_id, _parse_since(since), model, top)
    _check_plot(plot, name)
    try:
        with session_scope(settings().database_url) as session:
            shown_model, results = _run(session, name, filters, compare)
    except ReportError as error:
        fail(str(error))
    title = f"{name}: {REPORTS[name].description}"
    if name in SCORE_REPORTS:
        title += f"\nmodel: {shown_model or '(nothing assessed yet)'}"
        title += f", compared with {compare}" if compare else ""
    result, shown = results[0], TABLE_COLUMNS[name]
    if compare is not None:
        label = _label(compare)
        result, shown = side_by_side(name, results[0], results[1], label), _compared_columns(name, label)
    write_rows(result.rows, result.columns, output, title=title, shown=shown, wide=wide)
    if plot is not None:
        from pronscore.plots import plot_progress

        try:
            plot_progress(
                results[0].rows,
                plot,
                subject=learner_id or class_id or "all learners",
                model=shown_model or "",
                compared=(results[1].rows, compare) if compare else None,
            )
        except ValueError as error:
            fail(str(error))
        err_console.print(f"chart written to {plot}", highlight=False)
