"""A worker process's liveness, and the batches it owes the queue.

A daemon thread beats the process's row of `workers` every third of the lease for as long as the
process lives, so that no other worker takes one of its batches over as if it had crashed (see
`db/batches.py`). A batch the process could not give back because the database was away is owed:
it is given back first thing once the database answers, after the next beat or before the next
claim, whichever comes first, so an outage costs no attempt however long it lasts.
"""

from __future__ import annotations

import logging
import threading

from worker.ledger import BatchLedger

log = logging.getLogger(__name__)


class OwedBatches:
    """Batches this process could not give back, each with whether giving it back charges (an
    error of the worker's own) or not (an outage)."""

    def __init__(self) -> None:
        self._owed: dict[int, bool] = {}
        self._lock = threading.Lock()

    def add(self, batch_id: int, *, crashed: bool) -> None:
        with self._lock:
            self._owed[batch_id] = crashed

    def __len__(self) -> int:
        return len(self._owed)

    def give_back(self, ledger: BatchLedger, owner: str) -> None:
        """Give every owed batch back, oldest first; while the database is away this raises
        and the rest stay owed."""
        with self._lock:
            for batch_id, crashed in list(self._owed.items()):
                ledger.release(batch_id, owner, crashed=crashed)
                del self._owed[batch_id]
                log.info("batch %d given back, now that the database answers", batch_id, extra={"batch_id": batch_id})


class Liveness:
    """Beats for `owner` every `interval` seconds from a daemon thread, and gives back what is
    owed after each beat that reached the database."""

    def __init__(self, ledger: BatchLedger, owner: str, lease_seconds: int, interval: float, owed: OwedBatches) -> None:
        self.ledger = ledger
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.owed = owed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveness", daemon=True)

    def beat(self) -> None:
        self.ledger.beat(self.owner, self.lease_seconds)
        self.owed.give_back(self.ledger, self.owner)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception as error:  # the database is away; the next beat tries again
                log.warning("liveness beat failed: %s", error)
            if self._stop.wait(self.interval):
                return
