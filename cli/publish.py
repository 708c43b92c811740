"""`pronscore publish [RUN]`: the nightly job's last step, after `pronscore worker --drain`: the
teacher's site for the classes of the run, written to a folder and optionally uploaded to an S3
prefix."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import err_console, fail, settings
from cli.report import build_html, parse_since
from db.reports import ReportFilters, run_report
from db.runs import find_run
from db.session import session_scope
from pronscore.storage import AudioStore, S3Uri
from publishing.content import SiteRequest
from publishing.source import report_database_url


def publish(
    run: str | None = typer.Argument(None, help="Run name or id (default: the newest run)."),
    out: Path = typer.Option(..., "--out", help="Folder to write the site to (a previous build there is replaced)."),
    upload: str | None = typer.Option(
        None, "--upload", help="Also upload the site under this S3 prefix, e.g. s3://school-reports/nightly."
    ),
    since: str | None = typer.Option(None, "--since", help="Only from this date's week on (YYYY-MM-DD)."),
    compare: str | None = typer.Option(
        None, "--compare", help="Another version drawn beside the model's, e.g. human:expert."
    ),
    recent: int = typer.Option(10, "--recent", min=0, max=1000, help="Latest recordings per learner with audio."),
    no_audio: bool = typer.Option(False, "--no-audio", help="Leave the audio out."),
) -> None:
    """Write the teacher's site for the classes of a run (after `pronscore worker --drain`)."""
    prefix = None
    if upload is not None:
        try:
            prefix = S3Uri.parse(upload)
        except ValueError as error:
            fail(f"--upload {error}")
    with session_scope(settings().database_url) as session:
        name = find_run(session, run).name
    with session_scope(report_database_url(settings())) as session:
        rows = run_report(session, "recordings", ReportFilters(run=name)).rows
    classes = tuple(sorted({row["class_id"] for row in rows if row["class_id"] is not None}))
    if not classes:
        fail(f"run {name} has no recordings of any class, so there is no site to write")
    request = SiteRequest(classes=classes, since=parse_since(since), compare=compare, recent=recent)
    built = build_html(request, out, audio=not no_audio)
    err_console.print(f"run {name}: site of {', '.join(classes)} written to {built.folder}", highlight=False)
    if prefix is not None:
        from publishing.upload import upload_site

        sent = upload_site(AudioStore(settings()), built.folder, prefix)
        err_console.print(f"uploaded {sent} files to {prefix}", highlight=False)
    print(built.folder / "index.html")
