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
