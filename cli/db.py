"""`pronscore db`: schema migrations."""

from __future__ import annotations

import typer
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from cli.common import console, fail, settings
from migrations import alembic_config

app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)


def _revisions() -> str:
    script = ScriptDirectory.from_config(alembic_config(settings().database_url))
    return ", ".join(revision.revision for revision in reversed(list(script.walk_revisions())))


def _migrate(step: str, revision: str) -> None:
    """Run an Alembic step; an unknown target names the revisions there are."""
    config = alembic_config(settings().database_url)
    try:
        getattr(command, step)(config, revision)
    except CommandError as error:
        if "Can't locate revision" in str(error) or "No such revision" in str(error):
            fail(f"no revision {revision!r}: give head, base or one of {_revisions()}")
        raise


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision (default: the newest).")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _migrate("upgrade", revision)
    console.print(f"database upgraded to {revision}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision; 'base' removes every table, view and the role."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: a downgrade deletes the data of what it removes."),
) -> None:
    """Revert migrations down to REVISION; what it removes, it deletes with its data."""
    if not yes:
        fail(f"a downgrade to {revision} deletes data; add --yes to confirm")
    _migrate("downgrade", revision)
    console.print(f"database downgraded to {revision}")


@app.command()
def current() -> None:
    """Show the database's revision."""
    command.current(alembic_config(settings().database_url))
