"""A worker process's long-lived parts: settings, the audio store, its lease owner name, a
pool of download threads, and the engine, loaded on first use in the process that scores."""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

from engines import Engine, load_engine
from pronscore.settings import Settings
from pronscore.storage import AudioStore


class Runtime:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        """`engine` serves one already in memory (tests, benchmarks); by default the
        configured engine loads on the first batch."""
        self.settings = settings
        self.store = AudioStore(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.fetchers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fetch")
        if engine is not None:
            self.__dict__["engine"] = engine

    @cached_property
    def engine(self) -> Engine:
        return load_engine()
