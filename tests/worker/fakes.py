"""In-memory stand-ins for the worker's seams (audio store, batch ledger, engine), for tests of
the runner's logic that need no service."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import soundfile

from db.batches import BatchOutcome, ClaimedRecording, ClaimVerdict, RecordingResult
from engines import EngineVersion, ScoringItem
from pronscore.settings import Settings
from pronscore.storage import ObjectMissing, S3Uri, StorageError
from scoring.assessment import AssessmentResult
from scoring.audio import SAMPLE_RATE
from scoring.failures import RecordingFailure
from tests.factories import fake_version, scored
from worker.ledger import Claim
from worker.runtime import Runtime


def wav(seconds: float, seed: int = 0) -> bytes:
    """Noise at 16 kHz mono: audio that decodes, distinct per seed."""
    samples = np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * SAMPLE_RATE)).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, format="WAV")
    return buffer.getvalue()


class MemoryStore:
    """Objects by URI; `down` makes every download fail as an unreachable endpoint does."""

    def __init__(self, objects: Mapping[str, bytes] = ()) -> None:
        self.objects = dict(objects)
        self.down = False

    def get(self, uri: S3Uri) -> bytes:
        if self.down:
            raise StorageError("cannot reach the S3 endpoint")
        try:
            return self.objects[str(uri)]
        except KeyError:
            raise ObjectMissing(f"{uri} does not exist") from None


@dataclass
class MemoryBatch:
    recordings: dict[int, ClaimedRecording]
    holder: str | None = None
    done: bool = False
    results: dict[int, RecordingResult] = field(default_factory=dict)
    progress: tuple[int, int] | None = None


class MemoryLedger:
    """The batch lifecycle of `db.batches` over dictionaries: one holder at a time, results
    written only by the holder, attempts charged only on a crashed release. Set `undecided` to
    the batches whose last holder may be alive; set `away` to an error and every call raises it,
    as a database that does not answer."""

    def __init__(self) -> None:
        self.batches: dict[int, MemoryBatch] = {}
        self.completing: Callable[[], None] | None = None  # called inside `complete`, to inject faults
        self.undecided: set[int] = set()
        self.away: Exception | None = None
        self.beats: list[str] = []

    def _answer(self) -> None:
        if self.away is not None:
            raise self.away

    def add(self, batch_id: int, recordings: Sequence[ClaimedRecording]) -> None:
        self.batches[batch_id] = MemoryBatch({r.id: r for r in recordings})

    def take_over(self, batch_id: int, owner: str) -> None:
        """Another worker takes the batch, as after a sweep."""
        self.batches[batch_id].holder = owner

    def attempts(self, batch_id: int) -> dict[int, int]:
        return {r.id: r.attempts for r in self.batches[batch_id].recordings.values()}

    def claim(self, batch_id: int, owner: str, lease_seconds: int) -> Claim:
        self._answer()
        batch = self.batches[batch_id]
        if batch_id in self.undecided:
            return Claim(ClaimVerdict.undecided)
        if batch.done or batch.holder not in (None, owner):
            return Claim(ClaimVerdict.refused)
        batch.holder = owner
        return Claim(ClaimVerdict.taken, sorted(batch.recordings.values(), key=lambda r: r.id))

    def beat(self, owner: str, lease_seconds: int) -> None:
        self._answer()
        self.beats.append(owner)

    def renew(self, batch_id: int, owner: str, lease_seconds: int) -> bool:
        self._answer()
        return self.batches[batch_id].holder == owner

    def note_progress(self, batch_id: int, owner: str, done: int, total: int) -> bool:
        self._answer()
        batch = self.batches[batch_id]
        if batch.holder != owner:
            return False
        batch.progress = (done, total)
        return True

    def complete(
        self, batch_id: int, owner: str, version: EngineVersion, results: Mapping[int, RecordingResult]
    ) -> BatchOutcome | None:
        self._answer()
        if self.completing is not None:
            self.completing()
        batch = self.batches[batch_id]
        if batch.holder != owner:
            return None
        batch.results, batch.done, batch.holder = dict(results), True, None
        outcome = BatchOutcome(batch_id, claimed=True)
        for result in results.values():
            if isinstance(result, AssessmentResult) and result.scored:
                outcome.scored += 1
            else:
                reason = _failure(result).reason.value
                outcome.failed[reason] = outcome.failed.get(reason, 0) + 1
        return outcome

    def release(self, batch_id: int, owner: str, *, crashed: bool) -> bool:
        self._answer()
        batch = self.batches[batch_id]
        if batch.holder != owner:
            return False
        batch.holder = None
        if crashed:
            batch.recordings = {
                rid: ClaimedRecording(r.id, r.storage_uri, r.reference_text, r.attempts + 1, r.duration_seconds)
                for rid, r in batch.recordings.items()
            }
        return True

    def pending(self) -> int:
        self._answer()
        return sum(not batch.done for batch in self.batches.values())


class TextEngine:
    """Scores every recording (7, 8, 7, 7) and remembers the reference texts of each call;
    `broken(texts)` says whether a call with these texts raises (by default none does)."""

    version = fake_version("fake", meaningless=True)

    def __init__(self, broken: Callable[[list[str]], BaseException | None] = lambda texts: None) -> None:
        self.broken = broken
        self.calls: list[list[str]] = []
        self.on_score: Callable[[], None] | None = None

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        texts = [item.reference_text for item in items]
        self.calls.append(texts)
        if self.on_score is not None:
            self.on_score()
        error = self.broken(texts)
        if error is not None:
            raise error
        return [scored((7, 8, 7, 7)) for _ in items]

    def close(self) -> None:
        pass


@dataclass
class Night:
    """A runtime over in-memory fakes and one batch of `count` recordings of a second each
    (texts "r1", "r2", ...), stored unless listed in `missing`."""

    runtime: Runtime
    store: MemoryStore
    ledger: MemoryLedger
    engine: TextEngine
    batch_id: int = 1

    @classmethod
    def of(cls, count: int, engine: TextEngine | None = None, missing: Sequence[int] = (), **settings: object) -> Night:
        store, ledger, engine = MemoryStore(), MemoryLedger(), engine or TextEngine()
        recordings = []
        for rid in range(1, count + 1):
            uri = f"s3://bucket/r{rid}"
            if rid not in missing:
                store.objects[uri] = wav(1.0, seed=rid)
            recordings.append(ClaimedRecording(rid, uri, f"r{rid}", 0, 1.0))
        ledger.add(1, recordings)
        config = Settings(**{"lease_seconds": 60, "chunk_audio_seconds": 4.0, **settings})
        runtime = Runtime(config, store, ledger, lambda: engine, owner="here:1")
        return cls(runtime, store, ledger, engine)

    def failures(self) -> dict[int, str]:
        """Each failed recording's reason."""
        return {
            rid: _failure(result).reason.value
            for rid, result in self.ledger.batches[self.batch_id].results.items()
            if isinstance(result, RecordingFailure) or not result.scored
        }


def _failure(result: RecordingResult) -> RecordingFailure:
    """Why a recording failed, whether it failed before scoring or in the engine."""
    return result if isinstance(result, RecordingFailure) else result.failure
