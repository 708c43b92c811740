"""What a manifest row's audio may be, decided before anything leaves the machine.

A local path must name a file, under `PRONSCORE_AUDIO_ROOT` when that is set (symbolic links
and `..` resolved first, so neither leads out of it). Its bytes must decode as audio: only the
decoded recording, as 16 kHz mono WAV, is ever uploaded, so a manifest cannot copy a file that
is not audio (`/etc/passwd`, `/proc/self/environ`) into the store. A local file is read in
place, never whole: hashed in blocks, and refused from its header when it is too long, so a
two-hour recording costs no more memory than a short one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from scoring.audio import SAMPLE_RATE, AudioError, AudioSource, decode, to_wav
from scoring.failures import RecordingFailure


class OutsideRoot(ValueError):
    """A local audio path that is missing or lies outside the allowed folder."""


def locate(audio: str, base: Path | None, root: Path | None) -> Path:
    """The real path of a row's local audio (relative paths are taken from `base`)."""
    path = Path(audio)
    if base is not None and not path.is_absolute():
        path = base / path
    resolved = path.resolve()
    if root is not None and not resolved.is_relative_to(root.resolve()):
        raise OutsideRoot(f"audio {audio} lies outside PRONSCORE_AUDIO_ROOT ({root})")
    if not resolved.is_file():
        raise OutsideRoot(f"audio file not found: {path}")
    return resolved


def content_hash(source: AudioSource) -> str:
    """The sha256 of what was sent: a recording's identity, and its key in the store. A file is
    read from its start in blocks."""
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    source.seek(0)
    return hashlib.file_digest(source, "sha256").hexdigest()


@dataclass(frozen=True)
class CheckedAudio:
    """When a recording decodes, its upload form and length; else why not."""

    wav: bytes | None
    seconds: float | None
    failure: RecordingFailure | None = None


def check_audio(source: AudioSource, max_seconds: float) -> CheckedAudio:
    """Decode `source` as the worker would."""
    try:
        samples = decode(source, max_seconds)
    except AudioError as error:
        return CheckedAudio(None, None, RecordingFailure(error.reason, error.detail))
    return CheckedAudio(to_wav(samples), len(samples) / SAMPLE_RATE)
