"""A recording's audio for the engine: downloaded and decoded on the runtime's fetch threads
(the scheduler submits every fetch of a batch at once, in the order its chunks are scored)."""

from __future__ import annotations

from db.batches import ClaimedRecording
from engines import ScoringItem
from pronscore.storage import ObjectMissing, S3Uri
from scoring.audio import AudioError, decode
from scoring.failures import FailureReason, RecordingFailure
from worker.runtime import Runtime


def fetch(runtime: Runtime, recording: ClaimedRecording) -> ScoringItem | RecordingFailure:
    """The recording ready to score, or why it cannot be scored; store outages raise."""
    try:
        uri = S3Uri.parse(recording.storage_uri)
    except ValueError as error:  # a storage URI that is not s3://
        return RecordingFailure(FailureReason.object_missing, str(error))
    try:
        samples = decode(runtime.store.get(uri), runtime.settings.max_audio_seconds)
    except ObjectMissing as error:
        return RecordingFailure(FailureReason.object_missing, str(error))
    except AudioError as error:
        return RecordingFailure(error.reason, error.detail)
    return ScoringItem(samples, recording.reference_text)
