import io

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from scoring.audio import MIN_SAMPLES, SAMPLE_RATE, AudioError, decode, probe
from tests.conftest import sample_wav


def _encode(samples: np.ndarray, rate: int, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt)
    return buffer.getvalue()


def test_sample_wav_decodes_unchanged() -> None:
    path, _ = sample_wav()
    data = path.read_bytes()
    samples = decode(data, max_seconds=40)
    original, rate = soundfile.read(path, dtype="float32")
    assert rate == SAMPLE_RATE
    np.testing.assert_allclose(samples, original)
    assert probe(data).seconds == pytest.approx(len(original) / SAMPLE_RATE)


def test_stereo_44k_becomes_16k_mono() -> None:
    seconds = 1.5
    t = np.arange(int(44_100 * seconds)) / 44_100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([tone, tone], axis=1).astype(np.float32)
    samples = decode(_encode(stereo, 44_100, "FLAC"), max_seconds=40)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(SAMPLE_RATE * seconds, abs=2)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(samples) == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "audio_empty"),
        (b"RIFF\x00\x00garbage that is not audio" * 10, "audio_unreadable"),
        (_encode(np.zeros((0,), dtype=np.float32), SAMPLE_RATE), "audio_empty"),
        (_encode(np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE), "audio_silent"),
        (_encode(np.full(SAMPLE_RATE * 41, 0.1, dtype=np.float32), SAMPLE_RATE), "audio_too_long"),
        (_encode(np.full(160, 0.1, dtype=np.float32), SAMPLE_RATE), "audio_too_short"),
        (_encode(np.full(MIN_SAMPLES - 1, 0.1, dtype=np.float32), SAMPLE_RATE), "audio_too_short"),
        (_encode(np.zeros(160, dtype=np.float32), SAMPLE_RATE), "audio_too_short"),
    ],
    ids=["zero bytes", "corrupt", "no samples", "silent", "too long", "10 ms", "a sample short", "short silence"],
)
def test_bad_audio_fails_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(AudioError) as caught:
        decode(data, max_seconds=40)
    assert caught.value.reason == reason
    assert caught.value.detail


@given(st.integers(1, 4 * MIN_SAMPLES), st.sampled_from([8_000, 16_000, 22_050, 44_100, 48_000]))
def test_one_minimum_length_at_every_rate(frames: int, rate: int) -> None:
    """Under MIN_SAMPLES once at 16 kHz is too short, whatever the file's rate; anything longer decodes."""
    data = _encode(np.full(frames, 0.1, dtype=np.float32), rate)
    try:
        assert len(decode(data, max_seconds=40)) >= MIN_SAMPLES
    except AudioError as error:
        assert error.reason == "audio_too_short"
        assert round(frames * SAMPLE_RATE / rate) <= MIN_SAMPLES


def test_the_length_limit_is_configurable() -> None:
    data = _encode(np.full(SAMPLE_RATE * 3, 0.1, dtype=np.float32), SAMPLE_RATE)
    assert len(decode(data, max_seconds=5)) == SAMPLE_RATE * 3
    with pytest.raises(AudioError, match=r"audio_too_long: 3\.0 s is over the 2 s limit"):
        decode(data, max_seconds=2)
