"""Mispronunciation diff: what was heard, phone by phone, against what the reference text expects.

Each word may have several pronunciations; the variant that aligns best with what was heard
is taken, so a correct alternative pronunciation is not reported as an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scoring.alignment import Edit, Op, align, edit_count
from scoring.lexicon import Pronunciation, WordEntry


@dataclass(frozen=True)
class WordDiff:
    index: int
    text: str
    expected: list[str]
    actual: list[str]
    ops: list[Edit]
    known: bool = True

    @property
    def errors(self) -> int:
        return edit_count(self.ops)

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "text": self.text,
            "expected": self.expected,
            "actual": self.actual,
            "ops": [{"op": e.op.value, "expected": e.expected, "actual": e.actual} for e in self.ops],
            "errors": self.errors,
            **({} if self.known else {"unknown_word": True}),
        }


@dataclass(frozen=True)
class SentenceDiff:
    words: list[WordDiff]
    unknown_words: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(word.errors for word in self.words)

    def rows(self) -> list[tuple[int, WordDiff, Edit]]:
        """Every operation in order, numbered, with its word: the shape of the `phone_diffs` table."""
        numbered = []
        for word in self.words:
            for edit in word.ops:
                numbered.append((len(numbered), word, edit))
        return numbered


def _choose_variants(entries: Sequence[WordEntry], actual: Sequence[str]) -> list[Pronunciation]:
    """Start from each word's first variant; then, for each word heard with errors, keep the
    variant that lowers the whole sentence's edit count (one pass of coordinate descent).
    A word heard without errors already has its best variant."""
    chosen = [entry.variants[0] if entry.known else () for entry in entries]

    def total(choice: list[Pronunciation]) -> int:
        return edit_count(align([p for variant in choice for p in variant], actual))

    if all(len(entry.variants) < 2 for entry in entries):
        return chosen
    errors = [word.errors for word in _attribute(entries, chosen, actual)]
    best = sum(errors)
    for index, entry in enumerate(entries):
        if not errors[index]:
            continue
        for variant in entry.variants[1:]:
            trial = [*chosen[:index], variant, *chosen[index + 1 :]]
            cost = total(trial)
            if cost < best:
                chosen, best = trial, cost
    return chosen


def _attribute(entries: Sequence[WordEntry], chosen: Sequence[Pronunciation], actual: Sequence[str]) -> list[WordDiff]:
    """Align and give each operation to its word; an insertion belongs to the word of the
    canonical phone before it (the first word when it comes first)."""
    owner = [index for index, variant in enumerate(chosen) for _ in variant]
    per_word: list[list[Edit]] = [[] for _ in entries]
    current = 0
    for edit in align([p for variant in chosen for p in variant], actual):
        if edit.expected_index is not None:
            current = owner[edit.expected_index]
        per_word[current].append(edit)
    return [
        WordDiff(
            index=index,
            text=entry.text,
            expected=list(chosen[index]),
            actual=[e.actual for e in per_word[index] if e.actual is not None],
            ops=per_word[index],
            known=entry.known,
        )
        for index, entry in enumerate(entries)
    ]


def diff(entries: Sequence[WordEntry], actual: Sequence[str]) -> SentenceDiff:
    """Align the recognised phones to the reference words and attribute each operation to a word.

    Unknown words expect no phones, so phones heard for them show as insertions.
    """
    words = _attribute(entries, _choose_variants(entries, actual), actual)
    return SentenceDiff(words=words, unknown_words=[e.text for e in entries if not e.known])


__all__ = ["Op", "SentenceDiff", "WordDiff", "diff"]
