"""An analysis and a calibration in, an assessment out: scores, heard phones, per-word and
per-phone results.

A canonical phone counts as heard as another when its centred GOP is below the calibration's
`substitution_gop` and the loop's best phone over its frames is another phone (`actual` in the
MDD diff is that phone), or as not heard when that best phone is silence. Speech the loop heard
in a pause between two words is an insertion after the first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from engines.gop.analysis import Analysis, Features, check_fit, check_heard, features
from engines.gop.calibration import Calibration
from engines.gop.features import FRAME_SECONDS, PAUSE_SECONDS, PhoneEvidence
from engines.gop.offtask import OffTaskModel, check_read, load_offtask
from scoring.alignment import Edit, Op
from scoring.assessment import AssessmentResult
from scoring.mdd import SentenceDiff, WordDiff
from scoring.pronunciation import PhoneScore, WordErrorType, WordScore, word_error_type
from scoring.scores import SCORE_ASPECTS

MIN_INSERTION_FRAMES = 5


@dataclass(frozen=True)
class ScoreEstimates:
    """The calibration's sentence scores before rounding to the integers stored, for evaluation."""

    estimates: dict[str, float]

    def to_dict(self, scored: bool) -> dict[str, dict[str, float]]:
        return {"score_estimates": {aspect: round(value, 2) for aspect, value in self.estimates.items()}}


@dataclass(frozen=True)
class Heard:
    """What was heard for one canonical phone: the op and the phone heard (None if deleted)."""

    op: Op
    actual: str | None


def heard(evidence: PhoneEvidence, threshold: float) -> Heard:
    if evidence.gop >= threshold or evidence.competitor == evidence.phone:
        return Heard(Op.match, evidence.phone)
    if evidence.competitor is None or evidence.competitor.startswith(("SIL", "+", "<")):
        return Heard(Op.deletion, None)
    return Heard(Op.substitution, evidence.competitor)


def _insertions(analysis: Analysis) -> dict[int, list[str]]:
    """Speech phones the loop heard inside pauses between aligned words, by the word before."""
    found: dict[int, list[str]] = {}
    words = analysis.alignment.words
    for before, after in itertools.pairwise(words):
        gap_start, gap_end = before.start + before.duration, after.start
        if (gap_end - gap_start) * FRAME_SECONDS < PAUSE_SECONDS:
            continue
        inside = [s.phone for s in analysis.loop if not s.silent and s.start >= gap_start and s.end < gap_end
                  and s.frames >= MIN_INSERTION_FRAMES]  # fmt: skip
        if inside:
            found.setdefault(before.index, []).extend(inside)
    return found


def _sentence_diff(analysis: Analysis, found: Features, threshold: float) -> SentenceDiff:
    inserted = _insertions(analysis)
    words, canonical, actual = [], 0, 0
    for entry_index, entry in enumerate(analysis.entries):
        evidence = [e for e in found.evidence if e.word_index == entry_index]
        ops: list[Edit] = []
        for e in evidence:
            h = heard(e, threshold)
            ops.append(Edit(h.op, e.phone, h.actual, canonical, actual if h.actual else None))
            canonical += 1
            actual += h.actual is not None
        for phone in inserted.get(entry_index, []):
            ops.append(Edit(Op.insertion, None, phone, None, actual))
            actual += 1
        words.append(WordDiff(entry_index, entry.text, [e.phone for e in evidence],
                              [o.actual for o in ops if o.actual], ops, known=bool(evidence)))  # fmt: skip
    return SentenceDiff(words, [e.text for i, e in enumerate(analysis.entries) if not words[i].known])


def assessment(analysis: Analysis, calibration: Calibration, offtask: OffTaskModel | None = None) -> AssessmentResult:
    """Raises WrongText when the off-task check (`offtask`, else the one shipped) says another
    sentence was read, AlignmentFailed when no speech was heard or, on PocketSphinx alone, the
    phones fit too badly to be a reading. With the neural front end the off-task check, which
    weighs the decoder's fit of the reference, is the only judge of whether it was read: a
    weak reading is scored low, not failed."""
    found = features(analysis, calibration.phone_centres, calibration.phone_norms)
    if analysis.neural:
        check_heard(found)
    check_read(analysis, offtask or load_offtask(front_end="neural" if analysis.neural else "pocketsphinx"))
    if not analysis.neural:
        check_fit(found, calibration.min_gop_mean)
    models = calibration.models
    sentence = _sentence_diff(analysis, found, calibration.substitution_gop)
    phones = tuple(
        PhoneScore(e.word_index, e.phone, models["phone"].predict(found.phone_row(e)), e.start * FRAME_SECONDS,
                   e.duration * FRAME_SECONDS, e.gop,
                   h.actual if (h := heard(e, calibration.substitution_gop)).op is Op.substitution else None)
        for e in found.evidence
    )  # fmt: skip
    words = []
    for word in sentence.words:
        accuracy = models["word"].predict(found.words[word.index]) if word.index in found.words else None
        words.append(WordScore(word.index, word.text, accuracy, word_error_type(word.ops, accuracy)))
    estimates = {aspect: models[aspect].predict(found.utterance) for aspect in SCORE_ASPECTS}
    spoken = [w.text for w, s in zip(sentence.words, words, strict=True) if s.error_type is not WordErrorType.omission]
    flags = tuple(f"unknown_word:{w}" for w in sentence.unknown_words)
    flags += ("alignment:phone_loop_fallback",) if analysis.method == "loop" else ()
    return AssessmentResult(
        scores={aspect: round(value) for aspect, value in estimates.items()},
        word_transcript=" ".join(spoken),
        phoneme_transcript=" ".join(p for w in sentence.words for p in w.actual),
        phone_diff=sentence,
        word_scores=tuple(words),
        phone_scores=phones,
        flags=flags,
        detail=ScoreEstimates(estimates),
    )
