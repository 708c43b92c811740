"""Outages versus faults: which errors a batch is retried through, and how long to wait.

A store, database or broker that is down or restarting says nothing about the recordings: the
batch is given back without cost and tried again with exponential backoff for up to
`PRONSCORE_RETRY_HORIZON_SECONDS`. Any other error is the worker's own (a bug, a model that
cannot run) and counts as a crash.
"""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from pronscore.settings import Settings
from pronscore.storage import ObjectMissing, StorageError

_OUTAGES: tuple[type[BaseException], ...] = (
    BotoConnectionError,  # endpoint unreachable
    HTTPClientError,  # connection closed, read timed out
    OperationalError,  # database down, restarting, connection terminated
    InterfaceError,
    DisconnectionError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,  # the builtin: refused, reset, aborted
    TimeoutError,
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _server_error(error: BaseException) -> bool:
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status or 0) >= 500


def is_outage(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a store, database or broker being unavailable."""
    for link in _chain(error):
        if isinstance(link, ObjectMissing):
            return False
        if isinstance(link, (StorageError, *_OUTAGES)) or _server_error(link):
            return True
    return False


def backoff_seconds(retries: int, settings: Settings) -> float:
    """The wait before try `retries + 1`: doubling from the first wait, capped."""
    return min(settings.retry_backoff_seconds * 2.0**retries, settings.retry_backoff_max_seconds)


def max_retries(settings: Settings) -> int:
    """How many tries of backoff fit in the retry horizon."""
    waited, retries = 0.0, 0
    while waited < settings.retry_horizon_seconds:
        waited += backoff_seconds(retries, settings)
        retries += 1
    return retries
