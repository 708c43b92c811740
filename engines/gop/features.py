"""What the aligner and the phone loop say of each phone, word and utterance, as numbers.

A phone's goodness of pronunciation (GOP, Witt & Young 2000) is the aligned phone's acoustic
log-likelihood minus the phone loop's over the same frames, per frame, in PocketSphinx's score
units. The two searches normalise their scores differently, so raw GOP carries an offset that
differs by phone; calibration stores each phone's median over correctly read speech and the
features use GOP centred on it: near 0 for a phone as well said as usual, negative when
another phone fits better.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engines.gop.aligner import ForcedAlignment
from engines.gop.phone_loop import LoopSegment
from scoring.alignment import align, edit_count

FRAME_SECONDS = 0.01
PAUSE_SECONDS = 0.2  # a gap between words at least this long is a pause


@dataclass(frozen=True)
class GopScale:
    """A front end's GOP units: a centred GOP below `low` is a phone clearly worse than usual;
    `missed` is the GOP given to a canonical phone the fallback alignment did not find."""

    low: float
    missed: float


# About the 15th and 5th percentiles of forced-aligned phones in the speechocean762 sample.
POCKETSPHINX_SCALE = GopScale(low=-30.0, missed=-60.0)


@dataclass(frozen=True)
class PhoneEvidence:
    """One canonical phone: where it is, its score, and the loop's best competitor there."""

    word_index: int
    phone: str
    start: int
    duration: int
    score: float
    competitor: str | None
    competitor_score: float
    gop: float

    @property
    def competitor_wins(self) -> bool:
        return self.competitor is not None and self.competitor != self.phone and self.gop < 0


def _overlap(segment: LoopSegment, start: int, end: int) -> int:
    return max(0, min(end, segment.end + 1) - max(start, segment.start))


def phone_evidence(alignment: ForcedAlignment, loop: Sequence[LoopSegment]) -> list[PhoneEvidence]:
    """Each aligned phone against the loop's segments over its frames (shared frames are
    counted pro rata, so a loop segment's score is split between the phones it spans)."""
    evidence = []
    for phone in alignment.phones:
        start, end = phone.start, phone.start + phone.duration
        loop_score, best, best_frames = 0.0, None, 0
        for segment in loop:
            if segment.end < start:
                continue
            if segment.start >= end:
                break
            shared = _overlap(segment, start, end)
            loop_score += segment.score * shared / segment.frames
            if shared > best_frames:
                best, best_frames = segment.phone, shared
        gop = (phone.score - loop_score) / max(phone.duration, 1)
        evidence.append(PhoneEvidence(phone.word_index, phone.phone, phone.start, phone.duration,
                                      float(phone.score), best, loop_score, gop))  # fmt: skip
    return evidence


def centred(evidence: Sequence[PhoneEvidence], centres: Mapping[str, float]) -> list[PhoneEvidence]:
    """GOP minus each phone's usual value (`centres`, from calibration; 0 for a phone it lacks)."""
    return [replace(e, gop=e.gop - centres.get(e.phone, 0.0)) for e in evidence]


def loop_phones(loop: Sequence[LoopSegment], start: int, end: int) -> list[str]:
    """The loop's speech phones between two frames (the span of the aligned words)."""
    return [s.phone for s in loop if not s.silent and s.end >= start and s.start < end]


UTTERANCE_FEATURES = (
    "gop_mean",
    "gop_p10",
    "agree_share",
    "low_share",
    "lose_share",
    "speech_rate",
    "articulation_rate",
    "pause_count",
    "pause_seconds",
    "longest_phone",
    "loop_distance",
    "score_rate",
)
WORD_FEATURES = ("gop_mean", "gop_min", "lose_share", "score_rate")
PHONE_FEATURES = ("gop", "competitor_wins", "score_rate", "duration")


def _score_rate(evidence: Sequence[PhoneEvidence]) -> float:
    """Mean per-frame score of the canonical phones (with the neural front end: their log posterior)."""
    return float(np.mean([e.score / max(e.duration, 1) for e in evidence]))


def utterance_features(
    alignment: ForcedAlignment,
    evidence: Sequence[PhoneEvidence],
    loop: Sequence[LoopSegment],
    seconds: float,
    scale: GopScale = POCKETSPHINX_SCALE,
) -> dict[str, float]:
    gops = np.array([e.gop for e in evidence])
    words = alignment.words
    gaps = [(nxt.start - (prev.start + prev.duration)) * FRAME_SECONDS for prev, nxt in itertools.pairwise(words)]
    pauses = [gap for gap in gaps if gap >= PAUSE_SECONDS]
    first = min(w.start for w in words)
    last = max(w.start + w.duration for w in words)
    span = max((last - first) * FRAME_SECONDS, FRAME_SECONDS)
    canonical = [e.phone for e in evidence]
    heard = loop_phones(loop, first, last)
    return {
        "gop_mean": float(gops.mean()),
        "gop_p10": float(np.percentile(gops, 10)),
        "agree_share": float(np.mean([e.competitor == e.phone for e in evidence])),
        "low_share": float((gops < scale.low).mean()),
        "lose_share": float(np.mean([e.competitor_wins for e in evidence])),
        "speech_rate": len(evidence) / max(seconds, FRAME_SECONDS),
        "articulation_rate": len(evidence) / max(span - sum(pauses), FRAME_SECONDS),
        "pause_count": float(len(pauses)),
        "pause_seconds": float(sum(pauses)),
        "longest_phone": max(e.duration for e in evidence) * FRAME_SECONDS,
        "loop_distance": edit_count(align(canonical, heard)) / len(canonical),
        "score_rate": _score_rate(evidence),
    }


def word_features(evidence: Sequence[PhoneEvidence]) -> dict[str, float]:
    gops = [e.gop for e in evidence]
    return {
        "gop_mean": float(np.mean(gops)),
        "gop_min": float(min(gops)),
        "lose_share": float(np.mean([e.competitor_wins for e in evidence])),
        "score_rate": _score_rate(evidence),
    }


POCKETSPHINX_FEATURES = ("ps_agree_share", "ps_gop_mean")


def pocketsphinx_features(evidence: Sequence[PhoneEvidence]) -> dict[str, float]:
    """PocketSphinx's share of phones its loop agrees with, and its mean raw (uncentred) GOP;
    added beside the neural front end's features."""
    if not evidence:
        return dict.fromkeys(POCKETSPHINX_FEATURES, 0.0)
    return {
        "ps_agree_share": float(np.mean([e.competitor == e.phone for e in evidence])),
        "ps_gop_mean": float(np.mean([e.gop for e in evidence])),
    }


def phone_features(evidence: PhoneEvidence) -> dict[str, float]:
    return {
        "gop": evidence.gop,
        "competitor_wins": float(evidence.competitor_wins),
        "score_rate": _score_rate([evidence]),
        "duration": evidence.duration * FRAME_SECONDS,
    }
