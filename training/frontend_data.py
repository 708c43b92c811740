"""Frame targets for the neural front end's phone classifier, from unlabelled speechocean762 audio.

The targets need no human labels: each utterance's canonical phones (`resource/text-phone`)
are force-aligned by PocketSphinx, and every 20 ms encoder frame gets the phone aligned over it
(silence where no phone is). Only train-split audio is used, leaving out the speakers of the
labelled sample and the speakers kept for evaluation. Each utterance's encoder states and
targets are cached, so a second run only trains.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.gop.neural.classes import PHONE_CLASSES, SILENCE
from scoring.phones import strip_stress

# Train-split speakers kept out of training for evaluation on speakers nothing has seen.
EVALUATION_SPEAKERS = frozenset("0048 1012 2061 2430 3021 3837 5218 9607 9616 9624".split())


class CorpusError(ValueError):
    """A corpus folder without the files the front end's training needs."""


@dataclass(frozen=True)
class CorpusUtterance:
    utt: str
    speaker: str
    text: str
    audio: Path
    phones: tuple[tuple[str, ...], ...]  # canonical phones per word, without stress


def _table(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise CorpusError(f"the corpus has no {path}")
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(None, 1)
        if parts:
            rows[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return rows


def _canonical(path: Path) -> dict[str, dict[int, tuple[str, ...]]]:
    """resource/text-phone: `UTT.WORD  PH_B PH_I PH_E` lines, as phones per word per utterance."""
    found: dict[str, dict[int, tuple[str, ...]]] = {}
    for key, value in _table(path).items():
        utt, _, word = key.partition(".")
        found.setdefault(utt, {})[int(word)] = tuple(strip_stress(p.split("_")[0]) for p in value.split())
    return found


def train_utterances(corpus: Path, excluded_speakers: Iterable[str]) -> list[CorpusUtterance]:
    """The train split's utterances whose speakers are not excluded, sorted by id."""
    excluded = set(excluded_speakers)
    wavs, speakers, texts = (_table(corpus / "train" / name) for name in ("wav.scp", "utt2spk", "text"))
    canonical = _canonical(corpus / "resource" / "text-phone")
    found = []
    for utt in sorted(wavs):
        words = canonical.get(utt, {})
        text = texts.get(utt, "")
        if speakers.get(utt) in excluded or len(words) != len(text.split()):
            continue
        phones = tuple(words[i] for i in range(len(words)))
        found.append(CorpusUtterance(utt, speakers[utt], text, corpus / wavs[utt], phones))
    return found


def sample_speakers(labels: Path) -> set[str]:
    return {json.loads(line)["speaker"] for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()}


def chosen(utterances: list[CorpusUtterance], limit: int) -> list[CorpusUtterance]:
    """A fixed pseudo-random subset (by a hash of the id), in that order: reruns pick the same
    utterances, and a larger limit extends a smaller one's."""
    return sorted(utterances, key=lambda u: hashlib.sha256(u.utt.encode()).hexdigest())[:limit]


def frame_targets(phones: Iterable[tuple[str, int, int]], frames: int) -> np.ndarray:
    """Class per 20 ms frame from (phone, start, duration) in 10 ms frames; silence elsewhere.
    A 20 ms frame takes the phone of its second 10 ms frame (its centre)."""
    fine = np.full(2 * frames + 2, PHONE_CLASSES.index(SILENCE), dtype=np.int16)
    for phone, start, duration in phones:
        fine[start : start + duration] = PHONE_CLASSES.index(phone)
    return fine[1 : 2 * frames : 2][:frames].astype(np.int16)


def fingerprint(utterances: Iterable[CorpusUtterance]) -> str:
    digest = hashlib.sha256()
    for u in utterances:
        digest.update(json.dumps([u.utt, u.text, u.phones]).encode())
    return digest.hexdigest()
