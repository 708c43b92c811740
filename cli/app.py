"""The `pronscore` entry point: one Typer app assembling the command modules."""

from __future__ import annotations

import typer

from cli import db, model, queue, ratings, report, sample, training

app = typer.Typer(
    help="pronscore: batch pronunciation assessment for English learners.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(sample.app, name="sample")
app.add_typer(model.app, name="model")
app.command("score")(model.score)
app.command("enqueue")(queue.enqueue)
app.command("worker")(queue.worker)
app.command("status")(queue.status)
app.command("retry")(queue.retry)
app.command("sweep")(queue.sweep)
app.command("report")(report.report)
app.command("import-ratings")(ratings.import_ratings_command)
app.command("train")(training.train)
app.command("evaluate")(training.evaluate)


def main() -> None:
    app()
