"""Audio for a batch: downloaded and decoded on threads, in the order the chunks are scored,
so later chunks arrive while earlier ones are on the model."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from db.batches import ClaimedRecording
from pronscore.storage import ObjectMissing, S3Uri
from scoring.audio import AudioError, decode
from scoring.batching import form_batches
from scoring.failures import FailureReason, RecordingFailure
from worker.runtime import Runtime

Fetched = np.ndarray | RecordingFailure


def fetch(runtime: Runtime, recording: ClaimedRecording) -> Fetched:
    """The recording's samples, or why it cannot be scored; store outages raise."""
    try:
        data = runtime.store.get(S3Uri.parse(recording.storage_uri))
        return decode(data, runtime.settings.max_audio_seconds)
    except ObjectMissing as error:
        return RecordingFailure(FailureReason.object_missing, str(error))
    except AudioError as error:
        return RecordingFailure(error.reason, error.detail)
    except ValueError as error:  # a storage URI that is not s3://
        return RecordingFailure(FailureReason.object_missing, str(error))


def chunks(
    runtime: Runtime, recordings: Sequence[ClaimedRecording]
) -> list[list[tuple[ClaimedRecording, Future[Fetched]]]]:
    """Chunks of at most `chunk_audio_seconds`, shortest first; every download starts at once,
    submitted in chunk order so the first chunk's audio arrives first."""
    by_id = {r.id: r for r in recordings}
    planned = form_batches([(r.id, r.duration_seconds) for r in recordings], runtime.settings.chunk_audio_seconds)
    futures = {i: runtime.fetchers.submit(fetch, runtime, by_id[i]) for chunk in planned for i in chunk}
    return [[(by_id[i], futures[i]) for i in chunk] for chunk in planned]
