"""The `pronscore` entry point: one Typer app assembling the command modules."""

from __future__ import annotations

from importlib.metadata import version as package_version

import typer

from cli import db, feedback, gop, model, publish, queue, ratings, report, runs, sample, training
from cli.errors import DEBUG_VARIABLE, FriendlyGroup

app = typer.Typer(
    cls=FriendlyGroup,
    help="pronscore: batch pronunciation assessment for English learners.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"pronscore {package_version('pronscore')}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help=f"Show tracebacks (as {DEBUG_VARIABLE}=1 does)."),
) -> None:
    """pronscore: batch pronunciation assessment for English learners.

    Exit status: 0 done; 1 done in part (some rows or files failed; the command says which);
    2 nothing done: bad input, configuration or an unreachable service; 3 a bug.
    """


app.add_typer(db.app, name="db")
app.add_typer(sample.app, name="sample")
app.add_typer(model.app, name="model")
app.add_typer(report.app, name="report")
app.command("score")(model.score)
app.command("enqueue")(queue.enqueue)
app.command("worker")(queue.worker)
app.command("status")(queue.status)
app.command("retry")(queue.retry)
app.command("sweep")(queue.sweep)
app.command("failures")(runs.failures)
app.command("publish")(publish.publish)
app.command("show")(feedback.show)
app.command("import-ratings")(ratings.import_ratings_command)
app.command("train")(training.train)
app.command("evaluate")(training.evaluate)
app.command("train-gop")(gop.train_gop)


def main() -> None:
    app()
