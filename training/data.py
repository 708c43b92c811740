"""speechocean762 in its published forms, with the corpus's own train/test split.

- The release folder: `WAVE/`, `train/wav.scp` and `test/wav.scp` (Kaldi style), and the merged
  labels in `resource/scores.json` (one record per utterance id).
- The JSON Lines form (as in `data/speechocean762-sample/labels.jsonl`): one utterance a line
  with its `split` and `audio` path; a folder holding `labels.jsonl` works too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scoring.speechocean import RatedUtterance, parse_utterance

Split = Literal["train", "test", "all"]


class DatasetError(ValueError):
    """A dataset folder or file that cannot be read as speechocean762."""


@dataclass(frozen=True)
class Example:
    utterance: RatedUtterance
    audio: Path


@dataclass(frozen=True)
class Dataset:
    examples: list[Example]
    source: Path

    def fingerprint(self) -> str:
        """sha256 over the utterance ids, texts and labels: which data an adapter was trained on."""
        digest = hashlib.sha256()
        for example in sorted(self.examples, key=lambda e: e.utterance.utt):
            u = example.utterance
            digest.update(json.dumps([u.utt, u.text, u.scores, u.phoneme_transcript]).encode())
        return digest.hexdigest()


def _kaldi_table(path: Path) -> dict[str, str]:
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            key, _, value = line.strip().partition(" ")
            table[key] = value.strip()
    return table


def _read_release(root: Path, split: Split) -> list[Example]:
    scores_path = root / "resource" / "scores.json"
    if not scores_path.is_file():
        if (root / "resource" / "scores-detail.json").is_file():
            raise DatasetError(
                f"{root}/resource has only scores-detail.json, the five annotators' separate scores without "
                "the merged mispronunciations the targets need; use the release's resource/scores.json"
            )
        found = ", ".join(f"{name}/" for name in ("WAVE", "train", "test") if (root / name).is_dir())
        raise DatasetError(
            f"{root} has the release's {found or 'resource/'} but no resource/scores.json, the human scores that "
            "training and evaluation compare with; copy scores.json from the speechocean762 release into "
            f"{root}/resource/"
        )
    labels = json.loads(scores_path.read_text(encoding="utf-8"))
    examples = []
    for part in ("train", "test"):
        if split not in (part, "all"):
            continue
        scp = root / part / "wav.scp"
        if not scp.is_file():
            raise DatasetError(f"{root} has no {part}/wav.scp")
        speakers = _kaldi_table(root / part / "utt2spk") if (root / part / "utt2spk").is_file() else {}
        for utt, wav in sorted(_kaldi_table(scp).items()):
            if utt not in labels:
                raise DatasetError(f"{part}/wav.scp names {utt}, which scores.json does not label")
            record = {**labels[utt], "utt": utt, "split": part, "speaker": speakers.get(utt, ""), "audio": wav}
            examples.append(Example(parse_utterance(record), root / wav))
    return examples


def _read_jsonl(path: Path, split: Split) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            utterance = parse_utterance(record)
        except ValueError as error:
            raise DatasetError(f"{path.name} line {number}: {error}") from None
        if split in (utterance.split, "all"):
            examples.append(Example(utterance, path.parent / utterance.audio))
    return examples


def load_dataset(path: Path, split: Split = "all") -> Dataset:
    """Read either published form; `split` keeps the corpus's own train/test assignment."""
    if path.is_file():
        examples = _read_jsonl(path, split)
    elif (path / "resource").is_dir():
        examples = _read_release(path, split)
    elif (path / "labels.jsonl").is_file():
        examples = _read_jsonl(path / "labels.jsonl", split)
    else:
        raise DatasetError(f"{path} is neither a speechocean762 release folder nor a JSON Lines labels file")
    missing = [str(e.audio) for e in examples if not e.audio.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} audio files are missing, e.g. {missing[0]}")
    if not examples:
        raise DatasetError(f"no {split} utterances in {path}")
    return Dataset(examples, path)
