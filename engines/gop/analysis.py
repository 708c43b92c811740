"""One recording through the aligner and the phone loop: the evidence calibration maps to scores.

Forced alignment first; when it fails even at wider beams, the phone loop's output is aligned
to the canonical phones by edit distance (matched phones get the loop's frames and a GOP of 0,
substituted and deleted ones a fixed low GOP). A recording is rejected, never scored with
invented numbers, when neither gives a plausible alignment: no alignment at all, the loop
heard too little speech where the words were put (silence, noise), or (PocketSphinx alone) the
phones fit far worse than usual (`check_fit`). Whether another sentence was read is the
off-task check's to say (`offtask`), raising `WrongText`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from engines.gop.aligner import AlignedPhone, AlignedWord, ForcedAligner, ForcedAlignment
from engines.gop.features import (
    POCKETSPHINX_SCALE,
    GopScale,
    PhoneEvidence,
    centred,
    phone_evidence,
    phone_features,
    pocketsphinx_features,
    utterance_features,
    word_features,
)
from engines.gop.neural.classes import SILENCE
from engines.gop.neural.norms import PhoneNorms, utterance_norm_features, word_norm_features
from engines.gop.neural.reading import READING_FEATURES, ReadingFit
from engines.gop.phone_loop import LoopSegment, PhoneLoop
from scoring.audio import SAMPLE_RATE
from scoring.lexicon import Lexicon, WordEntry, default_lexicon
from scoring.mdd import diff

if TYPE_CHECKING:
    from engines.gop.neural.frontend import NeuralFrontEnd

# Of the aligned phones, the share the neural front end may hear as silence: at most 0.73 in
# the speechocean762 sample, 1.0 for digital silence.
MAX_SILENT_SHARE = 0.85
MIN_SPEECH_SHARE = 0.3  # of the aligned span, the loop must hear speech at least this much


class AlignmentFailed(Exception):
    """No plausible alignment of the reference to the audio."""


class WrongText(AlignmentFailed):
    """Speech was heard, but not the reference: another sentence, or words not read."""


@dataclass(frozen=True)
class Analysis:
    """What the searches found, before calibration: raw GOP per phone."""

    entries: list[WordEntry]
    alignment: ForcedAlignment
    evidence: list[PhoneEvidence]
    loop: list[LoopSegment]
    seconds: float
    method: str  # "forced" or "loop" (the fallback)
    timings: dict[str, float] = field(default_factory=dict)
    scale: GopScale = POCKETSPHINX_SCALE  # the units of `evidence`'s GOP (PocketSphinx's or the neural LPR)
    reading: ReadingFit | None = None  # the Whisper decoder's fit of the reference (neural front end)

    @property
    def neural(self) -> bool:
        return self.scale != POCKETSPHINX_SCALE

    @functools.cached_property
    def sphinx_evidence(self) -> list[PhoneEvidence]:
        """PocketSphinx's evidence for the aligned phones: `evidence` itself, or with the neural
        front end computed once from the same alignment and loop for the features and the
        off-task check that weigh it."""
        return phone_evidence(self.alignment, self.loop) if self.neural else self.evidence


@dataclass(frozen=True)
class Features:
    """An analysis with GOP centred per phone, and the numbers calibration maps to scores."""

    evidence: list[PhoneEvidence]
    utterance: dict[str, float]
    words: dict[int, dict[str, float]]

    def phone_row(self, evidence: PhoneEvidence) -> dict[str, float]:
        """A phone's features, with the Whisper decoder's fit of its word (`word_asr_…`) where it
        ran: a phone the annotators marked wrong usually sits in a word the decoder doubts."""
        word = self.words.get(evidence.word_index, {})
        return phone_features(evidence) | {f"word_{name}": word[name] for name in READING_FEATURES if name in word}


def features(analysis: Analysis, centres: dict[str, float], norms: PhoneNorms | None = None) -> Features:
    """`norms` (neural front end): each phone's usual log posterior, for the `lpp_z_` features."""
    evidence = centred(analysis.evidence, centres)
    if analysis.method == "loop" and not analysis.neural:
        evidence = [_fallback_gop(e, analysis.scale) for e in evidence]
    by_word = {w.index: [e for e in evidence if e.word_index == w.index] for w in analysis.alignment.words}
    utterance = utterance_features(analysis.alignment, evidence, analysis.loop, analysis.seconds, analysis.scale)
    words = {index: word_features(phones) for index, phones in by_word.items() if phones}
    if analysis.neural:
        _add_pocketsphinx(analysis, utterance, words)
    if analysis.reading is not None:
        utterance |= analysis.reading.features()
        for index, row in words.items():
            row |= analysis.reading.word_features(index)
    if norms:
        utterance |= utterance_norm_features(evidence, norms)
        for index, row in words.items():
            row |= word_norm_features(by_word[index], norms)
    return Features(evidence, utterance, words)


def _add_pocketsphinx(analysis: Analysis, utterance: dict[str, float], words: dict[int, dict[str, float]]) -> None:
    """Beside the neural features, PocketSphinx's own view of the same alignment (`ps_`): its
    phone loop's agreement with the canonical phones and its raw GOP, which cost nothing more
    (both searches have run) and carry what the encoder's posteriors may miss."""
    found = analysis.sphinx_evidence
    utterance |= pocketsphinx_features(found)
    for index, row in words.items():
        row |= pocketsphinx_features([e for e in found if e.word_index == index])


def check_heard(found: Features) -> None:
    """Reject (neural front end) a recording whose posteriors hear silence under nearly every
    phone: no speech, whatever the off-task check would make of it."""
    silent = float(np.mean([e.competitor == SILENCE for e in found.evidence]))
    if silent > MAX_SILENT_SHARE:
        raise AlignmentFailed(f"the front end heard silence under {silent:.0%} of the phones: is there speech?")


def check_fit(found: Features, min_gop_mean: float) -> None:
    """Reject an alignment whose phones fit far worse than any reading of the reference should."""
    if found.utterance["gop_mean"] < min_gop_mean:
        raise AlignmentFailed(
            f"the phones fit the audio far worse than usual (mean centred GOP {found.utterance['gop_mean']:.1f} "
            f"< {min_gop_mean:.1f}): was the reference sentence read?"
        )


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


class Analyser:
    """The aligner, the phone loop, the lexicon and the neural front end (when given), loaded
    once and reused for every recording. With the front end, PocketSphinx still places the
    phones and the loop still finds pauses and insertions; the phones' GOP, competitor and
    heard phone come from the front end's posteriors."""

    def __init__(self, lexicon: Lexicon | None = None, front_end: NeuralFrontEnd | None = None) -> None:
        self.lexicon = lexicon or default_lexicon()
        self.aligner = ForcedAligner()
        self.loop = PhoneLoop()
        self.front_end = front_end

    def analyse(self, samples: np.ndarray, reference_text: str) -> Analysis:
        """Raises AlignmentFailed when the audio cannot be a reading of the reference."""
        entries = self.lexicon.entries_for(reference_text)
        pcm = pcm16(samples)
        started = time.process_time()
        alignment = self.aligner.align(pcm, entries)
        aligned = time.process_time()
        loop = self.loop.decode(pcm)
        looped = time.process_time()
        method = "forced"
        if alignment is None:
            alignment, method = _from_loop(entries, loop), "loop"
        _check_speech(alignment, loop)
        timings = {"align": aligned - started, "loop": looped - aligned}
        seconds = len(samples) / SAMPLE_RATE
        if self.front_end is None:
            evidence = phone_evidence(alignment, loop)
            return Analysis(entries, alignment, evidence, loop, seconds, method, timings)
        from engines.gop.neural.evidence import NEURAL_SCALE, neural_evidence

        heard = self.front_end.hear(samples, [entry.text for entry in entries])
        evidence = neural_evidence(alignment.phones, heard.log_posteriors)
        timings["neural"] = time.process_time() - looped
        return Analysis(entries, alignment, evidence, loop, seconds, method, timings, NEURAL_SCALE, heard.reading)


def _check_speech(alignment: ForcedAlignment, loop: Sequence[LoopSegment]) -> None:
    first = min(w.start for w in alignment.words)
    last = max(w.start + w.duration for w in alignment.words)
    speech = sum(
        min(s.end + 1, last) - max(s.start, first) for s in loop if not s.silent and s.end >= first and s.start < last
    )
    if speech < MIN_SPEECH_SHARE * max(last - first, 1):
        raise AlignmentFailed(f"the phone loop heard speech in {speech} of the {last - first} frames the words fill")


def _fallback_gop(evidence: PhoneEvidence, scale: GopScale) -> PhoneEvidence:
    heard = evidence.competitor == evidence.phone and evidence.duration > 0
    return replace(evidence, gop=0.0 if heard else scale.missed)


def _from_loop(entries: Sequence[WordEntry], loop: Sequence[LoopSegment]) -> ForcedAlignment:
    """The canonical phones placed on the loop's segments by edit distance (the fallback)."""
    speech = [s for s in loop if not s.silent]
    sentence = diff(entries, [s.phone for s in speech])
    words, phones = [], []
    cursor = speech[0].start if speech else 0
    for word in sentence.words:
        word_phones = []
        for edit in word.ops:
            if edit.expected is None:
                continue
            if edit.actual_index is not None:
                segment = speech[edit.actual_index]
                word_phones.append(AlignedPhone(word.index, edit.expected, segment.start, segment.frames, 0))
                cursor = segment.end + 1
            else:
                word_phones.append(AlignedPhone(word.index, edit.expected, cursor, 0, 0))
        if word_phones:
            start = word_phones[0].start
            end = max(p.start + p.duration for p in word_phones)
            words.append(AlignedWord(word.index, word.text, start, end - start))
            phones.extend(word_phones)
    if not phones or not any(p.duration for p in phones):
        raise AlignmentFailed("neither forced alignment nor the phone loop found the reference in the audio")
    return ForcedAlignment(words, phones, max(p.start + p.duration for p in phones))
