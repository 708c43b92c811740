"""Fetching a recording for the engine, on an in-memory store: audio becomes a scoring item,
what cannot be read becomes that recording's failure, and a store outage raises."""

from __future__ import annotations

import pytest

from db.batches import ClaimedRecording
from engines import ScoringItem
from pronscore.storage import StorageError
from scoring.failures import FailureReason, RecordingFailure
from tests.worker.fakes import Night, wav
from worker.fetching import fetch


def _recording(uri: str) -> ClaimedRecording:
    return ClaimedRecording(7, uri, "WE CALL IT BEAR", 0, 2.0)


def test_audio_becomes_an_item_with_its_reference_text() -> None:
    night = Night.of(0)
    night.store.objects["s3://bucket/a"] = wav(2.0)
    item = fetch(night.runtime, _recording("s3://bucket/a"))
    assert isinstance(item, ScoringItem)
    assert (item.reference_text, round(item.seconds, 2)) == ("WE CALL IT BEAR", 2.0)


@pytest.mark.parametrize(
    ("uri", "content", "reason"),
    [
        ("s3://bucket/gone", None, FailureReason.object_missing),
        ("/data/local.wav", None, FailureReason.object_missing),
        ("s3://bucket/junk", b"RIFF\x24\x00\x00\x00WAVEfmt junk", FailureReason.audio_unreadable),
        ("s3://bucket/long", wav(41.0), FailureReason.audio_too_long),
    ],
)
def test_what_cannot_be_read_is_the_recordings_own_failure(uri: str, content: bytes | None, reason) -> None:
    night = Night.of(0)
    if content is not None:
        night.store.objects[uri] = content
    failure = fetch(night.runtime, _recording(uri))
    assert isinstance(failure, RecordingFailure) and failure.reason is reason


def test_a_store_outage_raises() -> None:
    night = Night.of(0)
    night.store.down = True
    with pytest.raises(StorageError):
        fetch(night.runtime, _recording("s3://bucket/a"))
