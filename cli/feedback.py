"""`pronscore show RECORDING_ID`: what one recording got wrong, word by word."""

from __future__ import annotations

import json
import sys

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import fail, settings
from cli.output import OutputFormat, cell, table_console
from db.reports.feedback import AssessmentFeedback, RecordingFeedback, UnknownRecording, recording_feedback
from db.session import session_scope
from scoring.scores import SCORE_ASPECTS


def _marked(assessment: AssessmentFeedback) -> Table:
    """Each word's expected and heard phones; heard phones that differ are red, missing ones
    are shown struck through in the expected column."""
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False)
    for header in ("word", "expected", "heard", "errors"):
        table.add_column(header, no_wrap=True)
    for word in assessment.words:
        expected, heard = [], []
        for op in word.ops:
            phone_expected, phone_heard = op["expected"], op["actual"]
            if op["op"] == "match":
                expected.append(phone_expected)
                heard.append(phone_heard)
            elif op["op"] == "substitution":
                expected.append(f"[bold]{phone_expected}[/]")
                heard.append(f"[bold red]{phone_heard}[/]")
            elif op["op"] == "deletion":
                expected.append(f"[bold red strike]{phone_expected}[/]")
            else:
                heard.append(f"[bold red]+{phone_heard}[/]")
        table.add_row(escape(word.text), " ".join(expected), " ".join(heard), escape(word.marked_errors))
    return table


def _print(feedback: RecordingFeedback) -> None:
    console = table_console()
    where = f" · class {feedback.class_id}" if feedback.class_id else ""
    console.print(
        f"[bold]recording {escape(feedback.recording_id)}[/] · learner {escape(feedback.learner_id)}{where} · "
        f"submitted {cell(feedback.submitted_at)}",
        highlight=False,
    )
    console.print(f"text: {escape(feedback.text)}", highlight=False)
    status = feedback.status
    if feedback.failure_reason:
        status += f": {feedback.failure_reason}" + (f" ({feedback.detail})" if feedback.detail else "")
    console.print(f"status: {escape(status)}", highlight=False)
    if not feedback.assessments:
        console.print("[dim]no assessment yet[/]")
    for assessment in feedback.assessments:
        scores = "  ".join(f"{aspect} {cell(assessment.scores[aspect]) or '-'}" for aspect in SCORE_ASPECTS)
        note = " [yellow](tiny test checkpoint: meaningless)[/]" if assessment.meaningless else ""
        console.print(f"\n[bold]{escape(assessment.model)}[/]{note}\n  {scores}", highlight=False)
        if assessment.status != "scored":
            console.print(f"  [red]the answer could not be read ({assessment.status})[/]")
        if assessment.words:
            errors = sum(w.errors for w in assessment.words)
            console.print(f"  heard: {escape(assessment.phoneme_transcript or '')} ({errors} phone errors)")
            console.print(_marked(assessment))


def show(
    recording_id: str = typer.Argument(..., help="The recording's id, as in the manifest."),
    model: str | None = typer.Option(None, "--model", help="Only this model version, e.g. human:expert."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """One recording's scores and, per word, the expected and heard phones with the errors marked."""
    if output is OutputFormat.csv:
        fail("show prints a table or JSON; use `pronscore report` or the report_recording_feedback view for CSV")
    try:
        with session_scope(settings().database_url) as session:
            feedback = recording_feedback(session, recording_id, model)
    except UnknownRecording as error:
        fail(str(error))
    if model is not None and not feedback.assessments:
        fail(f"recording {recording_id} has no assessment by {model}")
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(feedback.to_dict(model), indent=2) + "\n")
    else:
        _print(feedback)
