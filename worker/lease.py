"""The lease heartbeat: while a worker holds a batch, a thread extends its lease.

It renews every third of the lease, so a renewal can fail twice (a database blip) before the
lease runs out. A renewal that finds the lease taken means the sweep gave the batch to another
worker: the heartbeat stops and the runner gives the batch up without writing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another worker holds the batch now; this worker's results would be discarded."""


def renewal_interval(lease_seconds: float) -> float:
    return lease_seconds / 3


class LeaseHeartbeat:
    """Calls `renew` (False: the lease is someone else's) every `interval` seconds from a daemon
    thread, for as long as the `with` block runs."""

    def __init__(self, batch_id: int, renew: Callable[[], bool], interval: float) -> None:
        self.batch_id = batch_id
        self.renew = renew
        self.interval = interval
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{batch_id}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        """Raise `LeaseLost` if a renewal found the lease taken."""
        if self.lost:
            raise LeaseLost(f"batch {self.batch_id} was taken over by another worker")

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                held = self.renew()
            except Exception:  # the database may be down for a moment; the next beat tries again
                log.warning("could not renew the lease of batch %d", self.batch_id, exc_info=True)
                continue
            if not held:
                if not self._stop.is_set():
                    log.warning("batch %d: lease lost to another worker", self.batch_id)
                    self._lost.set()
                return
