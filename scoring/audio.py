"""Audio intake: any file soundfile reads, at any rate and channel count, to 16 kHz mono float32.

Works on bytes in memory (fetched from the store) or a binary file the caller opened (read
in place, so a long file is refused from its header before its samples are read); it opens
nothing itself. Failures carry a reason a person can act on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import soundfile
import soxr

from scoring.failures import FailureReason

SAMPLE_RATE = 16_000
SILENCE_PEAK = 10 ** (-60 / 20)  # -60 dBFS: nothing above this is speech
# The shortest recording scored: one 25 ms analysis window (400 samples at 16 kHz). Log-mel
# features are 25 ms windows every 10 ms, so anything shorter has no frame, and so no audio
# token for a speech model to hear; one rule for every engine, at intake and when scoring.
MIN_SAMPLES = 400

AudioSource = bytes | BinaryIO


class AudioError(ValueError):
    """A recording that cannot be scored, with one of the documented failure reasons."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class AudioInfo:
    seconds: float
    sample_rate: int
    channels: int


def _rewound(source: AudioSource) -> BinaryIO:
    """The audio as a seekable binary stream at its start (bytes are wrapped, not copied)."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    return stream


def probe(source: AudioSource) -> AudioInfo:
    """Duration and format from the header, without decoding the samples."""
    if not _rewound(source).read(1):  # not the size: files under /proc report none
        raise AudioError(FailureReason.audio_empty, "the file has no bytes")
    try:
        info = soundfile.info(_rewound(source))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        why = getattr(error, "error_string", None) or str(error)
        raise AudioError(
            FailureReason.audio_unreadable, f"not a readable audio file ({why.lower().rstrip('.')})"
        ) from None
    if info.frames <= 0:
        raise AudioError(FailureReason.audio_empty, "the file holds no samples")
    return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels)


def _downmix(samples: np.ndarray) -> np.ndarray:
    """Average the channels; summing column slices is several times faster than `mean(axis=1)`."""
    channels = samples.shape[1]
    if channels == 1:
        return samples[:, 0]
    return np.add.reduce([samples[:, c] for c in range(channels)]) * np.float32(1 / channels)


def decode(source: AudioSource, max_seconds: float) -> np.ndarray:
    """16 kHz mono float32 samples of a recording, or an `AudioError`; the length is checked
    from the header before any sample is read."""
    info = probe(source)
    if info.seconds > max_seconds:
        raise AudioError(FailureReason.audio_too_long, f"{info.seconds:.1f} s is over the {max_seconds:g} s limit")
    try:
        samples, rate = soundfile.read(_rewound(source), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        why = getattr(error, "error_string", None) or str(error)
        raise AudioError(FailureReason.audio_unreadable, f"decoding failed ({why.lower().rstrip('.')})") from None
    if samples.shape[0] == 0:
        raise AudioError(FailureReason.audio_empty, "the file holds no samples")
    mono = _downmix(samples)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    if not np.isfinite(mono).all():
        raise AudioError(FailureReason.audio_unreadable, "the samples contain NaN or infinite values")
    if mono.size < MIN_SAMPLES:
        raise AudioError(
            FailureReason.audio_too_short,
            f"{mono.size / SAMPLE_RATE * 1000:.1f} ms is under the {MIN_SAMPLES / SAMPLE_RATE * 1000:g} ms minimum",
        )
    if float(np.abs(mono).max()) < SILENCE_PEAK:
        raise AudioError(FailureReason.audio_silent, "the recording is silent (peak below -60 dBFS)")
    return np.ascontiguousarray(mono, dtype=np.float32)


def to_wav(samples: np.ndarray) -> bytes:
    """16 kHz mono samples as 16-bit WAV, the form the worker reads cheapest."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
