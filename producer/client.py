"""`ScoringClient`: what an ed-tech team calls from Python (or through `pronscore enqueue`).

Enqueueing validates every row, uploads local audio to the store under its sha256 (as 16 kHz
mono WAV, the form the workers read cheapest), registers
recordings idempotently, forms batches by audio seconds and commits all of that in one
transaction; only then are batch messages sent. If sending fails, the batches wait in the
database and the sweep sends them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.batches import create_batches
from db.models import Recording, RecordingStatus
from db.reports.feedback import recording_feedback
from db.runs import RunStatus, get_or_create_run, run_status
from db.session import session_scope
from db.upserts import upsert_learner, upsert_recording
from producer.manifest import RowError, Submission, read_manifest, validate
from pronscore.queue import make_celery, send_batches
from pronscore.settings import Settings, get_settings
from pronscore.storage import AudioStore, ObjectMissing, S3Uri
from scoring.audio import AudioError, probe, to_model_rate_wav

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class EnqueueResult:
    run_id: int
    run: str
    registered: int = 0
    already_known: int = 0
    rejected: list[RowError] = field(default_factory=list)
    uploaded: int = 0
    batches: list[int] = field(default_factory=list)
    sent: bool = False


@dataclass(frozen=True)
class _Stored:
    submission: Submission
    uri: str
    sha256: str
    seconds: float | None
    uploaded: bool


class ScoringClient:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.store = AudioStore(self.settings)

    # Enqueue ---------------------------------------------------------------------------

    def enqueue_manifest(self, path: Path, run: str | None = None, progress: Progress | None = None) -> EnqueueResult:
        """Enqueue a CSV or JSON Lines manifest; bad rows are returned, good rows go in."""
        validated = read_manifest(path)
        return self._enqueue(validated.submissions, validated.errors, run, progress)

    def enqueue(
        self,
        records: Iterable[Mapping[str, Any] | Submission],
        run: str | None = None,
        progress: Progress | None = None,
    ) -> EnqueueResult:
        """Enqueue records given as dicts with the manifest's columns (or `Submission`s)."""
        numbered = []
        for number, record in enumerate(records, start=1):
            raw = record.__dict__ if isinstance(record, Submission) else record
            numbered.append((number, raw))
        validated = validate(numbered)
        return self._enqueue(validated.submissions, validated.errors, run, progress)

    def _store_one(self, submission: Submission) -> _Stored | RowError:
        if submission.is_s3:
            try:
                uri = S3Uri.parse(submission.audio)
                data = self.store.get(uri)
            except (ValueError, ObjectMissing) as error:
                return RowError(submission.line, str(error), submission.recording_id)
        else:
            data = Path(submission.audio).read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            seconds: float | None = probe(data).seconds
        except AudioError:
            seconds = None  # the worker fails it with the reason; it still belongs to the run
        if submission.is_s3:
            return _Stored(submission, str(uri), sha256, seconds, uploaded=False)
        # Stored at the model's rate, so GPU hosts decode small files and never resample; the
        # recording keeps the sha256 of what the school sent. Audio that does not decode is
        # stored as sent, and the worker fails it with its reason.
        normalized = to_model_rate_wav(data)
        if normalized is None:
            stored, uploaded = self.store.put_if_absent(data, sha256, Path(submission.audio).suffix)
        else:
            stored, uploaded = self.store.put_if_absent(normalized, sha256, ".16k.wav")
        return _Stored(submission, str(stored), sha256, seconds, uploaded)

    def _enqueue(
        self,
        submissions: list[Submission],
        errors: list[RowError],
        run: str | None,
        progress: Progress | None,
    ) -> EnqueueResult:
        self.store.ensure_bucket()  # wrong credentials fail here, before anything is registered
        stored: list[_Stored] = []
        rejected = list(errors)
        with ThreadPoolExecutor(max_workers=8) as pool:
            for done, outcome in enumerate(pool.map(self._store_one, submissions), start=1):
                (rejected if isinstance(outcome, RowError) else stored).append(outcome)
                if progress:
                    progress(done, len(submissions))
        name = run or f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        with session_scope(self.settings.database_url) as session:
            result = self._register(session, name, stored)
        result.rejected = sorted(rejected, key=lambda e: e.line)
        result.uploaded = sum(s.uploaded for s in stored)
        result.sent = self._send(result.batches)
        return result

    def _register(self, session: Session, name: str, stored: list[_Stored]) -> EnqueueResult:
        run_id = get_or_create_run(session, name)
        result = EnqueueResult(run_id=run_id, run=name)
        registered: list[int] = []
        for item in stored:
            s = item.submission
            recording_id, new = upsert_recording(
                session,
                source_id=s.recording_id,
                sha256=item.sha256,
                learner_id=upsert_learner(session, s.learner_id, s.class_id),
                class_id=s.class_id,
                storage_uri=item.uri,
                reference_text=s.text,
                submitted_at=s.submitted_at,
                duration_seconds=item.seconds,
                run_id=run_id,
            )
            registered.append(recording_id)
            result.registered += new
            result.already_known += not new
        # New recordings, and known ones never batched (registered by a ratings import), wait.
        waiting = dict(
            session.execute(
                select(Recording.id, Recording.duration_seconds).where(
                    Recording.id.in_(registered),
                    Recording.status == RecordingStatus.queued,
                    Recording.batch_id.is_(None),
                )
            ).all()
        )
        result.batches = create_batches(session, run_id, waiting, self.settings.batch_audio_seconds)
        return result

    def _send(self, batch_ids: list[int]) -> bool:
        if not batch_ids:
            return True
        try:
            send_batches(make_celery(self.settings), batch_ids)
        except (BrokerError, OSError) as error:
            log.warning("could not send %d batches (%s); `pronscore sweep` will send them", len(batch_ids), error)
            return False
        return True

    # Status ----------------------------------------------------------------------------

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
