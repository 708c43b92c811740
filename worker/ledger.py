"""The worker's record of its batches and of itself: the seam between the runner and PostgreSQL.

`BatchLedger` is all the runner, the lease heartbeat and the liveness beat ask of the database;
`DatabaseLedger` keeps it in PostgreSQL through `db.batches`, one short transaction per call,
from a session factory. Tests of the runner use an in-memory ledger instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

from db.batches import (
    BatchOutcome,
    ClaimedRecording,
    ClaimVerdict,
    RecordingResult,
    beat,
    claim_batch,
    complete_batch,
    pending_work,
    record_progress,
    release_batch,
    renew_lease,
    start_recordings,
)
from db.upserts import upsert_model_version
from engines import EngineVersion

Sessions = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Claim:
    """A claim's verdict and, when the lease was taken, the recordings to score."""

    verdict: ClaimVerdict
    recordings: list[ClaimedRecording] = field(default_factory=list)


class BatchLedger(Protocol):
    def claim(self, batch_id: int, owner: str, lease_seconds: int) -> Claim:
        """Take the batch's lease and mark its unfinished recordings `scoring`, unless it is
        done, another worker holds it, or its last holder may still be alive."""
        ...

    def beat(self, owner: str, lease_seconds: int) -> None:
        """Note that this worker process is alive and reaches the database."""
        ...

    def renew(self, batch_id: int, owner: str, lease_seconds: int) -> bool:
        """Extend the lease; False when `owner` no longer holds it."""
        ...

    def note_progress(self, batch_id: int, owner: str, done: int, total: int) -> bool:
        """Note chunks scored, for `pronscore status`; False when `owner` no longer holds it."""
        ...

    def complete(
        self, batch_id: int, owner: str, version: EngineVersion, results: Mapping[int, RecordingResult]
    ) -> BatchOutcome | None:
        """Write every result and mark the batch done, in one transaction; None (nothing
        written) when `owner` no longer holds it."""
        ...

    def release(self, batch_id: int, owner: str, *, crashed: bool) -> bool:
        """Give the batch back to the queue, charged only when `crashed`."""
        ...

    def pending(self) -> int:
        """Batches queued or running."""
        ...


class DatabaseLedger:
    """The ledger in PostgreSQL: each call one transaction of a session from `sessions`."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def claim(self, batch_id: int, owner: str, lease_seconds: int) -> Claim:
        with self.sessions() as session:
            verdict = claim_batch(session, batch_id, owner, lease_seconds)
            if verdict is not ClaimVerdict.taken:
                return Claim(verdict)
            return Claim(verdict, start_recordings(session, batch_id))

    def beat(self, owner: str, lease_seconds: int) -> None:
        with self.sessions() as session:
            beat(session, owner, lease_seconds)

    def renew(self, batch_id: int, owner: str, lease_seconds: int) -> bool:
        with self.sessions() as session:
            return renew_lease(session, batch_id, owner, lease_seconds)

    def note_progress(self, batch_id: int, owner: str, done: int, total: int) -> bool:
        with self.sessions() as session:
            return record_progress(session, batch_id, owner, done, total)

    def complete(
        self, batch_id: int, owner: str, version: EngineVersion, results: Mapping[int, RecordingResult]
    ) -> BatchOutcome | None:
        with self.sessions() as session:
            model_version_id = upsert_model_version(session, **version.row())
            return complete_batch(session, batch_id, owner, model_version_id, results)

    def release(self, batch_id: int, owner: str, *, crashed: bool) -> bool:
        with self.sessions() as session:
            return release_batch(session, batch_id, owner, crashed=crashed)

    def pending(self) -> int:
        with self.sessions() as session:
            return pending_work(session)
