"""The recordings' audio, fetched from the store at build time and written into the site as
small MP3 files (16 kHz mono, about 21 kbit/s), so the pages play them offline and the links
never expire. MP3 because every browser plays it (Ogg Opus is smaller but not every iPad's Safari
plays it) and libsndfile encodes it several times faster than Opus, which keeps a class's build
within seconds. Files are named by the recording's content hash, so a nightly rebuild into the
same folder encodes only new recordings."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import soundfile

from pronscore.storage import AudioStore, ObjectMissing, S3Uri

AUDIO_FOLDER = "audio"
# libsndfile's MP3 compression level: 0 the largest files, 1 the smallest (about 21 kbit/s at
# 0.95 for 16 kHz speech, where the sounds learners confuse stay distinct).
COMPRESSION_LEVEL = 0.95


@dataclass(frozen=True)
class AudioSource:
    """One recording whose audio the site embeds: where it is stored and its content hash."""

    uri: str
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{AUDIO_FOLDER}/{self.sha256[:32]}.mp3"


def encode_mp3(wav: bytes) -> bytes:
    """Any audio libsndfile reads (the store's 16 kHz WAV) as mono MP3 at its own rate."""
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    out = io.BytesIO()
    soundfile.write(
        out, samples.mean(axis=1), rate, format="MP3", subtype="MPEG_LAYER_III", compression_level=COMPRESSION_LEVEL
    )
    return out.getvalue()


def embed_audio(
    store: AudioStore, sources: Iterable[AudioSource], site: Path, reuse: Path | None = None
) -> set[AudioSource]:
    """Write each source's MP3 under `site` and return those written; one already in `reuse`
    (the previous build of the same site) is copied instead of fetched and encoded again. A
    recording whose object is gone or does not decode is left out alone (its page shows no
    player); a store that cannot be reached fails the build. Fetches and encodings run on
    threads: both wait outside Python (the network, libsndfile)."""
    (site / AUDIO_FOLDER).mkdir(parents=True, exist_ok=True)

    def write(source: AudioSource) -> AudioSource | None:
        target = site / source.file_name
        previous = reuse / source.file_name if reuse is not None else None
        if previous is not None and previous.is_file():
            shutil.copyfile(previous, target)
            return source
        try:
            target.write_bytes(encode_mp3(store.get(S3Uri.parse(source.uri))))
        except (ObjectMissing, soundfile.LibsndfileError):
            return None
        return source

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        return {source for source in pool.map(write, set(sources)) if source is not None}
