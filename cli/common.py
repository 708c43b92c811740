"""Helpers shared by the command modules: settings, consoles, clean failures."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from pronscore.settings import Settings, get_settings

# Reports are often piped or captured; wrap tables at a report-friendly width there.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def settings() -> Settings:
    return get_settings()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a specific, actionable error and stop."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# `--format` of score, train and evaluate named the task format and clashed with the reports'
# output `--format`; it is `--task-format` now, and the old name is still read, with a warning.
TASK_FORMAT_HELP = "joint-v1, paper or terse-v1"
OldTaskFormat = typer.Option(None, "--format", hidden=True, help="Deprecated name of --task-format.")


def task_format(new: str | None, old: str | None) -> str | None:
    """The task format from --task-format, or from the deprecated --format."""
    if old is None:
        return new
    if new is not None and new != old:
        fail(f"--format is the old name of --task-format; give one of them, not {old!r} and {new!r}")
    err_console.print("[yellow]warning:[/] --format is deprecated here; use --task-format", highlight=False)
    return old
