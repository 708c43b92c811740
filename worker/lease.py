"""The lease heartbeat: while a worker holds a batch, a thread extends its lease.

It renews every third of the lease, so a renewal can fail twice (a database blip) before the
lease runs out. A renewal that finds the lease taken means the sweep gave the batch to another
worker: the heartbeat stops and the runner gives the batch up without writing.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from db.batches import renew_lease
from db.session import session_scope

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another worker holds the batch now; this worker's results would be discarded."""


class LeaseHeartbeat:
    """Renews one batch's lease from a daemon thread for as long as the `with` block runs."""

    def __init__(self, database_url: str, batch_id: int, owner: str, lease_seconds: int) -> None:
        self.database_url = database_url
        self.batch_id = batch_id
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.renewals = 0
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{batch_id}", daemon=True)

    @property
    def interval(self) -> float:
        return self.lease_seconds / 3

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
                with session_scope(self.database_url) as session:
                    held = renew_lease(session, self.batch_id, self.owner, self.lease_seconds)
            except Exception:  # the database may be down for a moment; the next beat tries again
                log.warning("could not renew the lease of batch %d", self.batch_id, exc_info=True)
                continue
            if not held:
                if not self._stop.is_set():
                    log.warning("batch %d: lease lost to another worker", self.batch_id)
                    self._lost.set()
                return
            self.renewals += 1
