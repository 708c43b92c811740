"""A worker process's long-lived parts, given to it rather than built inside it, so the runner
runs as well on in-memory fakes as on the real services: the settings, the audio store, the
batch ledger, the engine (loaded on first use, in the process that scores), the name the
process holds leases under, its download threads, its liveness beat and the batches it owes
the queue. `Runtime.from_settings` is the production wiring, in this one place."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import cached_property, partial
from typing import Protocol

from db.session import session_scope
from engines import Engine, load_engine
from pronscore.settings import Settings
from pronscore.storage import AudioStore, S3Uri
from worker.lease import renewal_interval
from worker.ledger import BatchLedger, DatabaseLedger
from worker.liveness import Liveness, OwedBatches


class AudioSource(Protocol):
    def get(self, uri: S3Uri) -> bytes:
        """The object's bytes; raises `ObjectMissing` when it is not there."""
        ...


def process_owner() -> str:
    """The name this process holds leases under: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Runtime:
    def __init__(
        self,
        settings: Settings,
        store: AudioSource,
        ledger: BatchLedger,
        load_engine: Callable[[], Engine],
        *,
        owner: str | None = None,
        fetchers: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ledger = ledger
        self._load_engine = load_engine
        self.owner = owner or process_owner()
        self.fetchers = fetchers or ThreadPoolExecutor(max_workers=8, thread_name_prefix="fetch")
        self.owed = OwedBatches()

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        """The S3 store, the PostgreSQL ledger and the configured engine of `settings`, or
        `engine` when one is already in memory (tests, benchmarks)."""
        ledger = DatabaseLedger(partial(session_scope, settings.database_url))
        return cls(settings, AudioStore(settings), ledger, partial(_loaded, engine))

    @cached_property
    def engine(self) -> Engine:
        return self._load_engine()

    @cached_property
    def liveness(self) -> Liveness:
        """The process's liveness beat, once started (a worker process starts it at once)."""
        lease = self.settings.lease_seconds
        return Liveness(self.ledger, self.owner, lease, renewal_interval(lease), self.owed)


def _loaded(engine: Engine | None) -> Engine:
    return engine if engine is not None else load_engine()
