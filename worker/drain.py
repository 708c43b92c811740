"""Draining: a worker started with `--drain` stops by itself once the night's work is done, or
once the broker has been out of reach too long, so a nightly job on a rented machine never hangs.

While it drains it also sweeps, so a batch whose worker died is sent again without cron.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from kombu.utils.url import maybe_sanitize_url

from db.batches import pending_work
from db.session import get_engine, session_scope
from pronscore.settings import Settings
from worker.sweep import sweep

log = logging.getLogger(__name__)


@dataclass
class Drain:
    """Every `interval` seconds: if the broker answers, sweep, then count the batches queued or
    running; two counts of none in a row call `stop`. A broker out of reach for `broker_wait`
    seconds calls `stop` too, and `gave_up` says why."""

    broker_reachable: Callable[[], bool]
    sweep: Callable[[], object]
    pending: Callable[[], int]
    stop: Callable[[], None]
    interval: float
    broker_wait: float
    broker: str
    gave_up: str | None = None
    load_drivers: Callable[[], None] = lambda: None

    @classmethod
    def for_settings(cls, settings: Settings, app: Celery, interval: float) -> Drain:
        """The draining of this process: it stops the Celery worker it runs in with SIGTERM."""
        return cls(
            broker_reachable=partial(broker_reachable, app),
            sweep=partial(sweep, settings, app),
            pending=partial(_pending, settings.database_url),
            stop=partial(os.kill, os.getpid(), signal.SIGTERM),
            interval=interval,
            broker_wait=settings.broker_wait_seconds,
            broker=maybe_sanitize_url(settings.redis_url),
            load_drivers=partial(_load_drivers, settings, app),
        )

    def start(self) -> threading.Thread:
        """Run in a daemon thread. The database driver and broker transport the thread uses are
        loaded first, in this thread: Celery forks its processes meanwhile, and a process forked
        in the middle of another thread's import inherits a half-initialised module."""
        self.load_drivers()
        thread = threading.Thread(target=self.run, daemon=True, name="drain")
        thread.start()
        return thread

    def run(self) -> None:
        reached = time.monotonic()
        idle_checks = 0
        while True:
            time.sleep(self.interval)
            if not self.broker_reachable():
                if time.monotonic() - reached >= self.broker_wait:
                    self.gave_up = (
                        f"the broker at {self.broker} has been unreachable for {self.broker_wait:.0f} s "
                        "(PRONSCORE_BROKER_WAIT_SECONDS); the draining worker gives up"
                    )
                    log.error(self.gave_up)
                    self.stop()
                    return
                continue
            reached = time.monotonic()
            try:
                self.sweep()
                pending = self.pending()
            except Exception:
                log.exception("drain check failed; trying again")
                continue
            idle_checks = idle_checks + 1 if pending == 0 else 0
            if idle_checks >= 2:
                log.info("no work left; the draining worker stops")
                self.stop()
                return


def broker_reachable(app: Celery) -> bool:
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
    except BrokerError as error:
        log.warning("the broker is unreachable: %s", error)
        return False
    return True


def _load_drivers(settings: Settings, app: Celery) -> None:
    get_engine(settings.database_url)
    with app.connection_for_write() as connection:
        connection.transport  # noqa: B018 (loading the transport is the point)


def _pending(database_url: str) -> int:
    with session_scope(database_url) as session:
        return pending_work(session)
