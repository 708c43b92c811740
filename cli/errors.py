"""Known failures as one line on stderr and an exit status, never a traceback.

Exit statuses of every command: 0 done; 1 done in part (some manifest rows rejected, some
files failed; the command says which); 2 nothing done because of the input, the configuration
or the infrastructure (a setting invalid, a database missing or not migrated, Redis or the
store unreachable); 3 an unexpected error, which is a bug. `PRONSCORE_DEBUG=1` (or `--debug`)
shows the traceback instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import typer
from alembic.util import CommandError
from botocore.exceptions import BotoCoreError, NoCredentialsError
from kombu.exceptions import OperationalError as BrokerError
from kombu.utils.url import maybe_sanitize_url
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from typer.core import TyperGroup

from cli.common import err_console
from db.runs import UnknownRun
from pronscore.settings import get_settings
from pronscore.storage import StorageError

CONFIGURATION = 2
UNEXPECTED = 3
DEBUG_VARIABLE = "PRONSCORE_DEBUG"
# PostgreSQL error classes that mean the schema is older than the code: 42P01 undefined
# table, 42703 undefined column, 42883 undefined function, 42704 undefined object.
_SCHEMA_BEHIND = {"42P01", "42703", "42883", "42704"}
_SECRET_FIELDS = {"s3_access_key_id", "s3_secret_access_key", "database_url", "redis_url"}


def _setting_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        shown = "" if field in _SECRET_FIELDS else f" (got {item.get('input')!r})"
        problems.append(f"PRONSCORE_{field.upper()}: {item['msg']}{shown}")
    return f"invalid setting {'; '.join(problems)}; fix it in the environment or .env"


def _database_name() -> str:
    try:
        return make_url(get_settings().database_url).database or "?"
    except (ValidationError, ArgumentError):
        return "?"


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _database_error(error: DBAPIError) -> str:
    code = getattr(error.orig, "sqlstate", None)
    message = _first_line(error)
    if code in _SCHEMA_BEHIND:
        return f"database {_database_name()} is not migrated: run `pronscore db upgrade`"
    missing = re.search(r'database "([^"]+)" does not exist', message)
    if missing:
        name = missing.group(1)
        return f"database {name} does not exist: create it (createdb {name}), then run `pronscore db upgrade`"
    if isinstance(error.orig, Exception) and "connection" in message.lower():
        return f"cannot use the database: {message}; check PRONSCORE_DATABASE_URL and that PostgreSQL is running"
    return f"database error: {message}"


def _url_error(error: ArgumentError) -> str | None:
    if "URL" not in str(error):
        return None
    return "PRONSCORE_DATABASE_URL is not a database URL; it looks like postgresql+psycopg://USER@HOST:5432/NAME"


def _broker_error(error: Exception) -> str:
    try:
        url = maybe_sanitize_url(get_settings().redis_url)
    except ValidationError:
        url = "PRONSCORE_REDIS_URL"
    return f"cannot reach the broker at {url} ({_first_line(error)}); is Redis running? (PRONSCORE_REDIS_URL)"


def _os_error(error: OSError) -> str:
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"


_EXPLAINERS: list[tuple[type[BaseException], Callable[[Any], str | None]]] = [
    (ValidationError, lambda e: _setting_error(e) if e.title == "Settings" else f"invalid value: {e}"),
    (DBAPIError, _database_error),
    (ArgumentError, _url_error),
    (BrokerError, _broker_error),
    (RedisConnectionError, _broker_error),
    (
        NoCredentialsError,
        lambda _: "no S3 credentials: set PRONSCORE_S3_ACCESS_KEY_ID and PRONSCORE_S3_SECRET_ACCESS_KEY",
    ),
    (BotoCoreError, lambda e: f"cannot use the S3 store: {e}"),
    (StorageError, str),
    (CommandError, lambda e: f"migration: {e}"),
    (UnknownRun, lambda e: str(e.args[0]) if e.args else "unknown run"),
    (OSError, _os_error),
    (
        UnicodeDecodeError,
        lambda e: f"the input is not UTF-8 text (byte {e.start}); manifests are UTF-8 CSV or JSON Lines",
    ),
]


def explain(error: BaseException) -> str | None:
    """The one line to tell the user about a known kind of failure, or None for a bug."""
    for kind, describe in _EXPLAINERS:
        if isinstance(error, kind):
            return describe(error)
    return None


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").lower() not in ("", "0", "false", "no")


class FriendlyGroup(TyperGroup):
    """The root command group: a failure below it ends as one line and an exit status."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors and exits: click's own
            raise
        except Exception as error:
            if debugging() or ctx.params.get("debug"):
                raise
            message = explain(error)
            code = CONFIGURATION
            if message is None:
                message = (
                    f"unexpected {type(error).__name__}: {_first_line(error)} "
                    f"(a bug; rerun with {DEBUG_VARIABLE}=1 for the traceback)"
                )
                code = UNEXPECTED
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None
