"""Forced alignment of a reference's canonical phones with PocketSphinx, in two passes.

The first pass aligns words (every lexicon variant allowed, optional silence between words);
the second aligns phones and states inside them. Settings that make it hold on learners'
speech: no best-path rescoring (with it the first pass can end in a one-frame `<s>` and the
second pass fails), very wide beams, and every senone scored in every frame (`compallsen`):
otherwise only the aligned senones are scored, and a phone's score is not comparable with
what a free phone loop finds in the same frames. A failed alignment is retried once at
wider beams.

Each recording gets decoders of its own: a PocketSphinx decoder keeps state from one
utterance to the next (the scores of a recording moved with what was decoded before it),
and a new one costs about 10 ms of CPU, so scoring is a function of the audio and the text
alone.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from pocketsphinx import Decoder, get_model_path

from scoring.lexicon import WordEntry
from scoring.phones import PHONES

log = logging.getLogger(__name__)

BEAMS = (1e-80, 1e-120)  # the first try, then the retry
FILLERS = frozenset({"SIL", "+SPN+", "+NSN+"})


def acoustic_model() -> str:
    """The US-English acoustic model the pocketsphinx wheel ships."""
    return os.path.join(get_model_path(), "en-us", "en-us")


@dataclass(frozen=True)
class AlignedPhone:
    """One canonical phone where the aligner put it: frames of 10 ms and the acoustic score
    (log base 1.0001, each frame's best senone being 0)."""

    word_index: int
    phone: str
    start: int
    duration: int
    score: int


@dataclass(frozen=True)
class AlignedWord:
    index: int
    text: str
    start: int
    duration: int


@dataclass(frozen=True)
class ForcedAlignment:
    words: list[AlignedWord]
    phones: list[AlignedPhone]
    frames: int


def placeholder_dictionary() -> str:
    """Decoders need a dictionary file to start; each utterance's words are added to it."""
    handle, path = tempfile.mkstemp(prefix="pronscore-gop-", suffix=".dict")
    with os.fdopen(handle, "w") as file:
        file.write("A AH\n")
    return path


def _decoder(beam: float) -> Decoder:
    dictionary = placeholder_dictionary()
    try:
        return Decoder(
            hmm=acoustic_model(),
            dict=dictionary,
            lm=None,
            bestpath=False,
            compallsen=True,
            beam=beam,
            wbeam=beam,
            pbeam=beam,
            loglevel="FATAL",
        )
    finally:
        os.unlink(dictionary)


def _dictionary_name(text: str, variant: int) -> str:
    return text if variant == 0 else f"{text}({variant + 1})"


class ForcedAligner:
    """Aligns each recording on a new decoder per beam setting, so none carries state."""

    def align(self, pcm: bytes, words: Sequence[WordEntry]) -> ForcedAlignment | None:
        """Align the known words of a sentence; None when no beam setting finds an alignment.
        Words without a pronunciation in the acoustic model's phone set are left out."""
        spoken = [(i, w) for i, w in enumerate(words) if _usable_variants(w)]
        if not spoken:
            return None
        for beam in BEAMS:
            try:
                return self._align_with(_decoder(beam), pcm, spoken)
            except RuntimeError as error:
                log.debug("forced alignment failed at beam %g: %s", beam, error)
        return None

    def _align_with(self, decoder: Decoder, pcm: bytes, spoken: Sequence[tuple[int, WordEntry]]) -> ForcedAlignment:
        for _, word in spoken:
            for number, variant in enumerate(_usable_variants(word)):
                name = _dictionary_name(word.text, number)
                if decoder.lookup_word(name) is None:
                    decoder.add_word(name, " ".join(variant), update=True)
        decoder.set_align_text(" ".join(word.text for _, word in spoken))
        for second in (False, True):
            if second:
                decoder.set_alignment()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
        alignment = decoder.get_alignment()
        if alignment is None:
            raise RuntimeError("no alignment")
        aligned_words, phones = [], []
        position = 0
        for word in alignment:
            if word.name.startswith("<") or word.name in FILLERS:
                continue
            if position >= len(spoken):
                raise RuntimeError(f"unexpected word {word.name!r} in the alignment")
            index, entry = spoken[position]
            position += 1
            aligned_words.append(AlignedWord(index, entry.text, word.start, word.duration))
            phones.extend(AlignedPhone(index, p.name, p.start, p.duration, p.score) for p in word)
        if position != len(spoken) or not phones:
            raise RuntimeError("the alignment does not cover every word")
        frames = max(p.start + p.duration for p in phones)
        return ForcedAlignment(aligned_words, phones, frames)


def _usable_variants(word: WordEntry) -> list[tuple[str, ...]]:
    return [variant for variant in word.variants if variant and all(p in PHONES for p in variant)]
