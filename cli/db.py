"""`pronscore db`: schema migrations."""

from __future__ import annotations

import typer
from alembic import command

from cli.common import console, settings
from migrations import alembic_config

app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    command.upgrade(alembic_config(settings().database_url), revision)
    console.print(f"database upgraded to {revision}")


@app.command()
def downgrade(
    revision: str = typer.Argument("-1", help="Target revision; 'base' removes everything."),
) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    command.downgrade(alembic_config(settings().database_url), revision)
    console.print(f"database downgraded to {revision}")


@app.command()
def current() -> None:
    """Show the database's revision."""
    command.current(alembic_config(settings().database_url))
