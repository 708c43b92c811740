"""`pronscore import-ratings`: expert or teacher scores as assessments of `human:NAME`."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import console, err_console, fail, settings
from db.session import session_scope
from producer.ratings import import_ratings


def import_ratings_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines ratings file."),
    rater: str = typer.Option(..., "--rater", help="Rater name; assessments go to model version human:NAME."),
) -> None:
    """Load ratings in the speechocean762 JSON Lines form; bad lines are named and skipped."""
    try:
        with session_scope(settings().database_url) as session:
            outcome = import_ratings(session, file, rater)
    except ValueError as error:
        fail(str(error))
    for error in outcome.errors:
        err_console.print(f"[yellow]skipped[/] {file.name} {error}", highlight=False)
    console.print(
        f"imported {outcome.imported} ratings as human:{rater} "
        f"({outcome.registered} new recordings, {len(outcome.errors)} lines skipped)",
        highlight=False,
    )
    if outcome.errors and not outcome.imported:
        raise typer.Exit(1)
