"""One recording's assessment: scores, transcripts and the phone diff, as the product reports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoring.failures import FailureReason, RecordingFailure
from scoring.lexicon import Lexicon
from scoring.mdd import SentenceDiff, diff
from scoring.parsing import ModelAnswer, ParseFailure
from scoring.pronunciation import PhoneScore, WordScore
from scoring.scores import SCORE_ASPECTS


@dataclass(frozen=True)
class AssessmentResult:
    """A scored recording (`answer` set), or a failed one (`failure` set, and no answer): its
    model output could not be read (`unparseable_output`), or the engine says why it could not
    score it. A failed one keeps `partial_scores` when its scores were read though its
    transcripts were not (the `paper` format's two turns), for evaluation. Engines that score
    each word and phone (GOP) fill `word_scores` and `phone_scores`."""

    answer: ModelAnswer | None
    phone_diff: SentenceDiff | None
    raw_output: str
    failure: RecordingFailure | None = None
    flags: tuple[str, ...] = ()
    generation_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    partial_scores: dict[str, int] | None = None
    word_scores: tuple[WordScore, ...] = ()
    phone_scores: tuple[PhoneScore, ...] = ()

    def __post_init__(self) -> None:
        if (self.answer is None) == (self.failure is None):
            raise ValueError("an assessment has an answer or a failure, not both nor neither")

    @property
    def scored(self) -> bool:
        return self.answer is not None

    def _word_dict(self, word: dict[str, Any]) -> dict[str, Any]:
        index = word["index"]
        for score in self.word_scores:
            if score.index == index:
                word |= {
                    "accuracy": None if score.accuracy is None else round(score.accuracy, 1),
                    "error_type": score.error_type.value,
                }
        phones = [p.to_dict() for p in self.phone_scores if p.word_index == index]
        return word | ({"phones": phones} if phones else {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "scored" if self.scored else "failed"}
        if self.failure is not None:
            body |= {
                "reason": self.failure.reason.value,
                "detail": self.failure.detail,
                "raw_output": self.raw_output,
            }
            if self.partial_scores:
                body["scores"] = self.partial_scores
        elif self.answer is not None and self.phone_diff is not None:
            body |= {
                "scores": self.answer.scores,
                "word_transcript": self.answer.word_transcript,
                "phoneme_transcript": self.answer.phoneme_transcript,
                "words": [self._word_dict(word.to_dict()) for word in self.phone_diff.words],
            }
            if self.phone_diff.unknown_words:
                body["unknown_words"] = self.phone_diff.unknown_words
        if self.flags:
            body["flags"] = list(self.flags)
        return body | self.extra


def assess(
    reference_text: str, parsed: ModelAnswer | ParseFailure, raw_output: str, lexicon: Lexicon
) -> AssessmentResult:
    """Turn a parsed model answer into an assessment with its phone-level diff."""
    if isinstance(parsed, ParseFailure):
        read = {aspect: parsed.partial[aspect] for aspect in SCORE_ASPECTS if aspect in parsed.partial}
        partial = {a: int(str(v)) for a, v in read.items()} if len(read) == len(SCORE_ASPECTS) else None
        failure = RecordingFailure(FailureReason.unparseable_output, parsed.reason)
        return AssessmentResult(None, None, raw_output, failure, parsed.flags, partial_scores=partial)
    phone_diff = diff(lexicon.entries_for(reference_text), parsed.phones)
    flags = parsed.flags + tuple(f"unknown_word:{w}" for w in phone_diff.unknown_words)
    return AssessmentResult(parsed, phone_diff, raw_output, flags=flags)
