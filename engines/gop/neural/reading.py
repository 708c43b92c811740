"""Was the reference what was said? Whisper's decoder, forced through the reference's words.

Over the same encoder states the phone classifier reads, CTranslate2's `align` runs Whisper
tiny.en's decoder on the reference's tokens and returns each token's probability given the
audio and the words before it. A reading of the reference, however weak, keeps most tokens
likely; another sentence makes them unlikely from its first word. The per-word log
probabilities are evidence for the off-task check and for calibration (a learner's weakest
word is where the decoder hesitates most), and cost one decoder pass of a dozen tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FLOOR = 1e-6  # a token probability CTranslate2 rounds to 0 counts as this
READING_FEATURES = ("asr_mean", "asr_min")


@dataclass(frozen=True)
class ReadingFit:
    """The natural-log probability of each reference token, grouped by word (empty for a word
    with no tokens, which cannot happen for a word of letters)."""

    words: tuple[tuple[float, ...], ...]

    def features(self) -> dict[str, float]:
        """Over the whole reference: the mean token log probability and the weakest word's mean."""
        tokens = [p for word in self.words for p in word]
        means = [float(np.mean(word)) for word in self.words if word]
        return {"asr_mean": float(np.mean(tokens)), "asr_min": min(means)}

    def word_features(self, index: int) -> dict[str, float]:
        """The word's mean token log probability, and its weakest token's."""
        word = self.words[index]
        return {"asr_mean": float(np.mean(word)), "asr_min": float(min(word))}


def as_written(words: Sequence[str]) -> list[str]:
    """The reference as Whisper writes English: sentence case, "I" capitalised. The corpus's
    references are upper case, which Whisper almost never writes."""
    written = [w.lower() for w in words]
    written = [w[0].upper() + w[1:] if w == "i" or w.startswith("i'") else w for w in written]
    if written:
        written[0] = written[0][0].upper() + written[0][1:]
    return written


class ReferenceReader:
    """Forced decoding of a reference by a CTranslate2 Whisper model (English-only: no
    language token), with the model folder's own tokenizer."""

    def __init__(self, model: Any, folder: Path) -> None:
        import ctranslate2
        from tokenizers import Tokenizer

        self._storage_view = ctranslate2.StorageView
        self.model = model
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.start = [self.tokenizer.token_to_id(t) for t in ("<|startoftranscript|>", "<|notimestamps|>")]

    def tokens(self, words: Sequence[str]) -> list[list[int]]:
        """Each word's tokens; a leading space joins it to the one before, as in running text."""
        return [self.tokenizer.encode(" " + word, add_special_tokens=False).ids for word in as_written(words)]

    def fit(self, states: np.ndarray, words: Sequence[str]) -> ReadingFit:
        """`states`: (frames, dims) encoder states of one recording; `words`: the reference."""
        per_word = self.tokens(words)
        flat = [token for word in per_word for token in word]
        view = self._storage_view.from_array(np.ascontiguousarray(states[None], dtype=np.float32))
        [aligned] = self.model.align(view, self.start, [flat], [len(states)])
        logs = np.log(np.maximum(np.asarray(aligned.text_token_probs, dtype=np.float64), FLOOR))
        grouped, cursor = [], 0
        for word in per_word:
            grouped.append(tuple(float(v) for v in logs[cursor : cursor + len(word)]))
            cursor += len(word)
        return ReadingFit(tuple(grouped))
