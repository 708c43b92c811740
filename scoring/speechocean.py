"""speechocean762 utterances as typed records, and the phones a learner actually produced.

The corpus annotates mispronunciations per canonical phone: `<DEL>` (deleted), a phone or
phone pair (substituted), `X*` (a distorted X, which we write `<unk>`) or `<unk>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scoring.lexicon import WordEntry
from scoring.phones import UNK, normalize_phone
from scoring.scores import SCORE_ASPECTS
from scoring.text import normalize_text


@dataclass(frozen=True)
class Mispronunciation:
    index: int
    canonical: str
    pronounced: str


@dataclass(frozen=True)
class RatedWord:
    text: str
    phones: tuple[str, ...]
    mispronunciations: tuple[Mispronunciation, ...]
    accuracy: float | None = None  # 0-10, when the labels give it
    phone_scores: tuple[float, ...] = ()  # 0-2 per phone, when the labels give them

    def pronounced_phones(self) -> list[str]:
        """The canonical phones with each annotated mispronunciation applied."""
        by_index = {m.index: m.pronounced for m in self.mispronunciations}
        produced: list[str] = []
        for index, phone in enumerate(self.phones):
            pronounced = by_index.get(index)
            if pronounced is None:
                produced.append(phone)
            elif pronounced == "<DEL>":
                continue
            elif pronounced.endswith("*") or pronounced.lower() == UNK:
                produced.append(UNK)
            else:
                produced.extend(normalize_phone(p) for p in pronounced.split())
        return produced


@dataclass(frozen=True)
class RatedUtterance:
    utt: str
    speaker: str
    split: str
    audio: str
    text: str
    scores: dict[str, int]
    words: tuple[RatedWord, ...]

    @property
    def word_transcript(self) -> str:
        return normalize_text(self.text)

    @property
    def canonical_phones(self) -> list[str]:
        return [p for word in self.words for p in word.phones]

    @property
    def phoneme_transcript(self) -> str:
        return " ".join(p for word in self.words for p in word.pronounced_phones())

    def word_entries(self) -> list[WordEntry]:
        """The annotated canonical pronunciation of each word, as the only variant."""
        return [WordEntry(word.text, (word.phones,)) for word in self.words]


class LabelError(ValueError):
    """A speechocean762 label record that cannot be read."""


def parse_utterance(record: Mapping[str, Any]) -> RatedUtterance:
    """Read one utterance in the corpus's JSON form (as in `labels.jsonl`)."""
    try:
        words = tuple(
            RatedWord(
                text=str(word["text"]),
                phones=tuple(normalize_phone(p) for p in word["phones"]),
                mispronunciations=tuple(
                    Mispronunciation(
                        index=int(m["index"]),
                        canonical=normalize_phone(m["canonical-phone"]),
                        pronounced=str(m["pronounced-phone"]),
                    )
                    for m in word.get("mispronunciations", [])
                ),
                accuracy=float(word["accuracy"]) if word.get("accuracy") is not None else None,
                phone_scores=tuple(float(x) for x in word.get("phones-accuracy") or ()),
            )
            for word in record["words"]
        )
        scores = {aspect: int(record[aspect]) for aspect in SCORE_ASPECTS}
        utterance = RatedUtterance(
            utt=str(record["utt"]),
            speaker=str(record.get("speaker", "")),
            split=str(record.get("split", "")),
            audio=str(record.get("audio", "")),
            text=str(record["text"]),
            scores=scores,
            words=words,
        )
    except KeyError as missing:
        raise LabelError(f"missing field {missing}") from None
    except (TypeError, ValueError) as bad:
        raise LabelError(str(bad)) from None
    for aspect, value in scores.items():
        if not 0 <= value <= 10:
            raise LabelError(f"{aspect} score {value} is outside 0-10")
    for word in words:
        for m in word.mispronunciations:
            if not 0 <= m.index < len(word.phones):
                raise LabelError(f"mispronunciation index {m.index} outside word {word.text!r}")
        if word.phone_scores and len(word.phone_scores) != len(word.phones):
            raise LabelError(
                f"word {word.text!r} has {len(word.phones)} phones but {len(word.phone_scores)} phone scores"
            )
    return utterance
