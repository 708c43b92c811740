"""`pronscore report NAME`: the named reports as a table, CSV or JSON, with an optional chart;
`pronscore report html`: the teacher's static site.

One command per report, made from its spec (`db/reports/catalog.py`): its help, the filters it
takes and whether it compares or plots come from there. Score reports show one model version at
a time (default: the newest machine model), so human and model scores never average together;
`--compare` adds another version's figures beside.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from typer.core import TyperGroup

from cli.common import err_console, fail, settings
from cli.output import Column, OutputFormat, write_rows
from db.reports import REPORTS, ReportError, ReportFilters, ReportResult, ReportSpec, newest_model, run_report
from db.session import session_scope
from pronscore.storage import AudioStore
from publishing.content import SiteError, SiteRequest

if TYPE_CHECKING:
    from publishing.site import BuiltSite


class ReportGroup(TyperGroup):
    """The reports in the order they are declared; an unknown name lists the known ones."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*REPORTS, "html"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            fail(f"unknown report {cmd_name!r}; choose one of {', '.join(REPORTS)} (or html, the teacher's site)")
        return command


app = typer.Typer(
    cls=ReportGroup,
    no_args_is_help=True,
    help="Named reports from the database's report views, and the teacher's site (html).",
)


def parse_since(value: str | None) -> date | None:
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


def side_by_side(spec: ReportSpec, result: ReportResult, compared: ReportResult, label: str) -> ReportResult:
    """The model's rows with the compared version's figures beside them (`LABEL_column`), keyed
    on the report's row identity; rows only one of the two has keep the other's empty."""
    extra = [f"{label}_{column}" for column in spec.compared]
    merged: dict[tuple, dict[str, Any]] = {}
    for row in result.rows:
        merged[tuple(row[k] for k in spec.identity)] = {**row, **dict.fromkeys(extra)}
    carried = (*spec.identity, *spec.labels)
    for row in compared.rows:
        key = tuple(row[k] for k in spec.identity)
        if key not in merged:
            merged[key] = {c: row.get(c) if c in carried else None for c in result.columns} | dict.fromkeys(extra)
        target = merged[key]
        for column in spec.compared:
            target[f"{label}_{column}"] = row[column]
    rows = sorted(merged.values(), key=lambda row: _sort_key(row, spec.order))
    return ReportResult([*result.columns, *extra], rows)


def _table_columns(spec: ReportSpec) -> tuple[Column, ...]:
    return tuple(Column(c.key, c.header, percent=c.percent) for c in spec.table)


def _compared_columns(spec: ReportSpec, label: str) -> tuple[Column, ...]:
    """The table's columns with --compare: each paired figure of the model, then the other's."""
    declared = {c.key: c for c in _table_columns(spec)}
    shown: list[Column] = []
    for key in spec.compared_table:
        column = declared.get(key, Column(key))
        if key not in spec.paired:
            shown.append(column)
            continue
        header = (column.header or key).split("\n")[0]
        shown.append(Column(key, f"{header}\nmodel", percent=column.percent))
        shown.append(Column(f"{label}_{key}", f"{header}\n{label}", percent=column.percent))
    return tuple(shown)


def _check_plot(plot: Path | None, spec: ReportSpec) -> None:
    if plot is None:
        return
    if not spec.plots:
        plotted = " and ".join(s.name for s in REPORTS.values() if s.plots)
        fail(f"--plot draws weekly scores and works with the {plotted} report only")
    if not plot.parent.is_dir():
        fail(f"cannot write the chart to {plot}: the folder {plot.parent} does not exist")


def _run(
    session: Session, spec: ReportSpec, filters: ReportFilters, compare: str | None
) -> tuple[str | None, list[ReportResult]]:
    """The model version shown (for score reports), its result, and the compared one's."""
    if not spec.one_model:
        if compare is not None:
            compared = " and ".join(s.name for s in REPORTS.values() if s.one_model)
            raise ReportError(f"--compare works with {compared} only")
        return filters.model, [run_report(session, spec.name, filters)]
    model = filters.model or newest_model(session)
    results = [run_report(session, spec.name, replace(filters, model=model or ""))]
    if compare is not None:
        if compare == model:
            raise ReportError(f"--compare names the model the report already shows ({model})")
        results.append(run_report(session, spec.name, replace(filters, model=compare)))
    return model, results


def _show(
    spec: ReportSpec,
    filters: ReportFilters,
    compare: str | None,
    output: OutputFormat,
    wide: bool,
    plot: Path | None,
) -> None:
    _check_plot(plot, spec)
    try:
        with session_scope(settings().database_url) as session:
            shown_model, results = _run(session, spec, filters, compare)
    except ReportError as error:
        fail(str(error))
    title = f"{spec.name}: {spec.description}"
    if spec.one_model:
        title += f"\nmodel: {shown_model or '(nothing assessed yet)'}"
        title += f", compared with {compare}" if compare else ""
    result, shown = results[0], _table_columns(spec)
    if compare is not None:
        label = _label(compare)
        result, shown = side_by_side(spec, results[0], results[1], label), _compared_columns(spec, label)
    write_rows(result.rows, result.columns, output, title=title, shown=shown, wide=wide)
    if plot is not None:
        from pronscore.plots import plot_progress

        try:
            plot_progress(
                results[0].rows,
                plot,
                subject=filters.learner_id or filters.class_id or "all learners",
                model=shown_model or "",
                compared=(results[1].rows, compare) if compare else None,
            )
        except ValueError as error:
            fail(str(error))
        err_console.print(f"chart written to {plot}", highlight=False)


def _report_command(spec: ReportSpec) -> None:
    """Register `pronscore report NAME` for one spec; a filter it does not take is a clear error."""

    def command(
        class_id: str | None = typer.Option(None, "--class", help="Only this class."),
        learner_id: str | None = typer.Option(None, "--learner", help="Only this learner."),
        recording_id: str | None = typer.Option(None, "--recording", help="Only this recording id."),
        run: str | None = typer.Option(None, "--run", help="Only this run's recordings (its name)."),
        since: str | None = typer.Option(None, "--since", help="Only from this date's week on (YYYY-MM-DD)."),
        model: str | None = typer.Option(
            None, "--model", help="The model version whose scores to show (default: the newest), e.g. human:expert."
        ),
        compare: str | None = typer.Option(
            None, "--compare", help="Another model version to show beside it, e.g. human:expert."
        ),
        top: int | None = typer.Option(
            None, "--top", min=1, max=1000, help="Ranked reports: rows per class or learner (default 10)."
        ),
        output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv or json."),
        wide: bool = typer.Option(False, "--wide", help="Every column in the table, not only those that matter."),
        plot: Path | None = typer.Option(None, "--plot", help="Weekly scores: write a PNG chart here."),
    ) -> None:
        if top is not None and not spec.takes_top:
            fail(f"report {spec.name} does not take --top")
        filters = ReportFilters(class_id, learner_id, recording_id, run, parse_since(since), model, top or 10)
        _show(spec, filters, compare, output, wide, plot)

    app.command(spec.name, help=f"{spec.description[0].upper()}{spec.description[1:]}.")(command)


for _spec in REPORTS.values():
    _report_command(_spec)


def build_html(request: SiteRequest, out: Path, audio: bool) -> BuiltSite:
    """Build the teacher's site as the read-only role, fetching audio from the store."""
    # Imported here, as pronscore.plots is: matplotlib and Jinja2 would slow every other report.
    from publishing.site import build_site
    from publishing.source import report_database_url

    store = AudioStore(settings()) if audio else None
    try:
        with session_scope(report_database_url(settings())) as session:
            return build_site(session, store, request, out)
    except SiteError as error:
        fail(str(error))
    except OperationalError as error:
        fail(
            f"cannot read the report views as the read-only role ({str(error.orig).strip().splitlines()[0]}); "
            "set PRONSCORE_REPORT_DATABASE_URL (user pronscore_report) or run `pronscore db upgrade`"
        )


@app.command("html")
def html(
    class_id: str | None = typer.Option(None, "--class", help="The class to build the site of."),
    all_classes: bool = typer.Option(False, "--all-classes", help="Every class, with an index page of classes."),
    out: Path = typer.Option(..., "--out", help="Folder to write (created; a previous build there is replaced)."),
    since: str | None = typer.Option(None, "--since", help="Only from this date's week on (YYYY-MM-DD)."),
    model: str | None = typer.Option(
        None, "--model", help="The model version whose scores to show (default: the newest model)."
    ),
    compare: str | None = typer.Option(
        None, "--compare", help="Another version drawn beside it, never averaged with it, e.g. human:expert."
    ),
    recent: int = typer.Option(
        10, "--recent", min=0, max=1000, help="Latest recordings per learner shown with feedback and audio."
    ),
    no_audio: bool = typer.Option(False, "--no-audio", help="Leave the audio out (no S3 store needed)."),
) -> None:
    """The teacher's static site: a class page and a page per learner, offline, no server needed."""
    if (class_id is None) == (not all_classes):
        fail("give --class C or --all-classes (one of the two)")
    request = SiteRequest(
        classes=(class_id,) if class_id else (), since=parse_since(since), model=model, compare=compare, recent=recent
    )
    built = build_html(request, out, audio=not no_audio)
    err_console.print(
        f"site of {built.classes} class(es), {built.learners} learners, {built.audio_files} recordings' audio",
        highlight=False,
    )
    print(built.folder / "index.html")
