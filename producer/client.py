"""`ScoringClient`: what an ed-tech team calls from Python (or through `pronscore enqueue`).

Enqueueing streams the rows in chunks of `PRONSCORE_ENQUEUE_CHUNK_ROWS`. For each chunk it
decodes every recording (what does not decode is never uploaded: it is registered as failed
with its reason), uploads local audio to the store under its sha256 as 16 kHz mono WAV (the
form the workers read cheapest; the same bytes sent under several ids are decoded and
uploaded once), registers the chunk and forms its batches in one transaction, and only then
sends the batch messages. If sending fails, the batches wait in the database and the sweep
sends them. Every step is idempotent, so enqueueing the same rows
again finishes an interrupted enqueue and changes nothing else. The run is created with the
first recording registered: rows that are all rejected or already known make no run.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError

from db.batches import create_batches, requeue_failed
from db.registration import NewRecording, register_chunk
from db.reports.feedback import recording_feedback
from db.runs import RunStatus, find_run, get_or_create_run, run_status
from db.session import session_scope
from producer.intake import check_audio, content_hash
from producer.manifest import (
    Manifest,
    NumberedRow,
    RowError,
    RowRules,
    Submission,
    repeated_ids,
    validated,
)
from pronscore.queue import make_celery, send_batches
from pronscore.settings import Settings, get_settings
from pronscore.storage import AudioStore, ObjectMissing, S3Uri, StorageError
from scoring.audio import AudioSource
from scoring.failures import FailureReason, RecordingFailure

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class EnqueueResult:
    """What became of each row: registered (new, queued for scoring; `new_versions` of them
    replace earlier audio of a known id), already known, corrected (text, learner, class or
    date changed), failed at intake (registered as failed: the audio does not decode and was
    not uploaded) or rejected (not registered). `run_id` is None when no row needed a run."""

    run: str
    run_id: int | None = None
    rows: int = 0
    registered: int = 0
    new_versions: int = 0
    already_known: int = 0
    corrected: int = 0
    failed_at_intake: list[RowError] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    uploaded: int = 0
    batches: list[int] = field(default_factory=list)
    sent: bool = True

    @property
    def nothing_enqueued(self) -> bool:
        return len(self.rejected) == self.rows


@dataclass
class RetryResult:
    run: str
    requeued: int = 0
    batches: list[int] = field(default_factory=list)
    sent: bool = True


@dataclass(frozen=True)
class _Taken:
    record: NewRecording
    uploaded: bool


@dataclass(frozen=True)
class _Verdict:
    """What intake found of one content: its length, why it failed, or where its copy is."""

    seconds: float | None
    failure: RecordingFailure | None
    stored: str | None


class ContentSeen:
    """Verdicts on the contents met in one enqueue, by (sha256, read in place), so the same
    bytes sent under several ids are decoded and uploaded once; the oldest are forgotten past
    `limit`, which bounds the memory of a large manifest of distinct files."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._verdicts: OrderedDict[tuple[str, bool], _Verdict] = OrderedDict()

    def get(self, key: tuple[str, bool]) -> _Verdict | None:
        return self._verdicts.get(key)

    def add(self, key: tuple[str, bool], verdict: _Verdict) -> _Verdict:
        self._verdicts[key] = verdict
        while len(self._verdicts) > self.limit:
            self._verdicts.popitem(last=False)  # atomic, unlike iterating while intake threads add
        return verdict


class ScoringClient:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.store = AudioStore(self.settings)

    @cached_property
    def _celery(self) -> Celery:
        """One Celery app (and its broker connections) for every chunk's send, made on first need."""
        return make_celery(self.settings)

    # Enqueue ---------------------------------------------------------------------------

    def enqueue_manifest(self, path: Path, run: str | None = None, progress: Progress | None = None) -> EnqueueResult:
        """Enqueue a CSV or JSON Lines manifest of any size; bad rows are returned, good rows go in."""
        return self._enqueue(Manifest(path), path.parent, run, progress)

    def enqueue(
        self,
        records: Iterable[Mapping[str, Any] | Submission],
        run: str | None = None,
        progress: Progress | None = None,
    ) -> EnqueueResult:
        """Enqueue records given as dicts with the manifest's columns (or `Submission`s)."""
        rows: list[NumberedRow] = [
            (number, record.__dict__ if isinstance(record, Submission) else record)
            for number, record in enumerate(records, start=1)
        ]
        return self._enqueue(rows, None, run, progress)

    def _enqueue(
        self, rows: Iterable[NumberedRow], base: Path | None, run: str | None, progress: Progress | None
    ) -> EnqueueResult:
        self.store.ensure_bucket()  # wrong credentials fail here, before anything is registered
        repeated, count = repeated_ids(rows)
        result = EnqueueResult(run=run or f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}", rows=count)
        done, chunk, seen = 0, [], ContentSeen()
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="intake") as pool:
            for item in validated(rows, RowRules.from_settings(self.settings, base), repeated):
                done += 1
                if isinstance(item, RowError):
                    result.rejected.append(item)
                    continue
                chunk.append(item)
                if len(chunk) >= self.settings.enqueue_chunk_rows:
                    self._enqueue_chunk(pool, seen, chunk, result)
                    chunk = []
                    if progress:
                        progress(done, result.rows)
            if chunk:
                self._enqueue_chunk(pool, seen, chunk, result)
        if progress:
            progress(result.rows, result.rows)
        result.rejected.sort(key=lambda error: error.line)
        return result

    def _take_in(self, seen: ContentSeen, submission: Submission) -> _Taken | RowError:
        """Hash one row's audio, then decode it and upload it if it is local audio. Content met
        before in this enqueue is neither decoded nor looked up in the store again. A local file
        is read in place (`producer/intake.py`), never whole into memory."""
        line, source_id = submission.line, submission.recording_id
        with ExitStack() as files:
            try:
                if submission.is_s3:
                    source: AudioSource = self.store.get(S3Uri.parse(submission.audio))
                else:
                    source = files.enter_context(Path(submission.audio).open("rb"))
                sha256 = content_hash(source)
            except ObjectMissing as error:
                return RowError(line, str(error))
            except OSError as error:
                return RowError(line, f"cannot read audio {submission.audio} ({error.strerror})")
            key = (sha256, submission.is_s3)  # s3:// inputs are read in place, local ones copied
            verdict, uploaded = seen.get(key), False
            if verdict is None:
                checked = check_audio(source, self.settings.max_audio_seconds)
                stored = None
                if checked.wav is not None and not submission.is_s3:
                    uri, uploaded = self.store.put_if_absent(checked.wav, sha256, ".16k.wav")
                    stored = str(uri)
                verdict = seen.add(key, _Verdict(checked.seconds, checked.failure, stored))
        record = NewRecording(
            source_id=source_id,
            learner=submission.learner_id,
            class_id=submission.class_id,
            sha256=sha256,
            storage_uri=verdict.stored or submission.audio,
            reference_text=submission.text,
            submitted_at=submission.submitted_at,
            duration_seconds=verdict.seconds,
            failure=verdict.failure,
        )
        return _Taken(record, uploaded)

    def _enqueue_chunk(
        self, pool: ThreadPoolExecutor, seen: ContentSeen, chunk: Sequence[Submission], result: EnqueueResult
    ) -> None:
        """Take in, register and batch one chunk in one transaction, then send its batches."""
        try:
            taken = list(pool.map(partial(self._take_in, seen), chunk))
        except StorageError as error:
            raise StorageError(_stopped_at(chunk[0].line, error)) from None
        records = []
        for submission, outcome in zip(chunk, taken, strict=True):
            if isinstance(outcome, RowError):
                result.rejected.append(outcome)
                continue
            records.append(outcome.record)
            result.uploaded += outcome.uploaded
            if outcome.record.failure:
                result.failed_at_intake.append(RowError(submission.line, str(outcome.record.failure)))
        if not records:
            return
        run_ids: list[int] = []
        with session_scope(self.settings.database_url) as session:

            def run_id() -> int:
                if not run_ids:
                    run_ids.append(get_or_create_run(session, result.run))
                return run_ids[0]

            registration = register_chunk(session, records, run_id)
            batches = (
                create_batches(session, run_id(), registration.waiting, self.settings.batch_audio_seconds)
                if registration.waiting
                else []
            )
        if run_ids:
            result.run_id = run_ids[0]
        result.registered += registration.inserted
        result.new_versions += registration.new_versions
        result.already_known += registration.already_known
        result.corrected += registration.corrected
        result.batches += batches
        result.sent = self._send(batches) and result.sent

    def _send(self, batch_ids: list[int]) -> bool:
        if not batch_ids:
            return True
        try:
            send_batches(self._celery, batch_ids)
        except (BrokerError, OSError) as error:
            log.warning("could not send %d batches (%s); `pronscore sweep` will send them", len(batch_ids), error)
            return False
        return True

    # Retry and status ------------------------------------------------------------------

    def retry(self, run: str, reason: FailureReason | str | None = None) -> RetryResult:
        """Queue a run's failed recordings again (only those failed for `reason`, if given),
        with their attempts reset; recordings that failed at intake need corrected audio.
        A reason that does not exist raises `UnknownReason` (a typo would queue nothing)."""
        reason = None if reason is None else FailureReason.named(reason)
        with session_scope(self.settings.database_url) as session:
            found = find_run(session, run)
            outcome = RetryResult(run=found.name)
            outcome.requeued, outcome.batches = requeue_failed(
                session, found.id, self.settings.batch_audio_seconds, reason
            )
        outcome.sent = self._send(outcome.batches)
        return outcome

    def status(self, run: str | None = None) -> RunStatus:
        """The run of that name or id (default: the newest): counts, failures, rate, time left."""
        with session_scope(self.settings.database_url) as session:
            return run_status(session, run)

    def wait(self, run: str | int, timeout: float = 3600.0, poll_seconds: float = 5.0) -> RunStatus:
        """Block until every recording of the run is scored or failed; TimeoutError after
        `timeout` seconds, with where the run stands in its message."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.status(str(run))
            if state.remaining == 0:
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {state.run} still has {state.remaining} recordings after {timeout:.0f} s")
            time.sleep(min(poll_seconds, max(deadline - time.monotonic(), 0.0)))

    def assessment(self, recording_id: str, model: str | None = None) -> dict[str, Any]:
        """The recording's assessment as JSON (the newest machine model's unless `model` names
        one): status, scores, transcripts and each word's expected and heard phones.
        Raises `UnknownRecording` for an id never enqueued."""
        with session_scope(self.settings.database_url) as session:
            return recording_feedback(session, recording_id, model).to_dict(model)


def _stopped_at(line: int, error: Exception) -> str:
    return (
        f"{error}; enqueueing stopped at the chunk starting on line {line}. The rows before it are "
        "registered and sent: run the same command again to finish"
    )
