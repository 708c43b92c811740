"""One recording's assessment: scores, transcripts and the phone diff, as the product reports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from scoring.failures import FailureReason, RecordingFailure
from scoring.lexicon import Lexicon
from scoring.mdd import SentenceDiff, diff
from scoring.parsing import ModelAnswer, ParseFailure
from scoring.pronunciation import PhoneScore, WordScore
from scoring.scores import SCORE_ASPECTS


class AssessmentDetail(Protocol):
    """What only one engine reports about a result (a generative model's raw answer, GOP's
    unrounded scores)."""

    def to_dict(self, scored: bool) -> dict[str, Any]:
        """Its keys in the assessment's JSON, for a scored result or a failed one."""
        ...


@dataclass(frozen=True)
class ModelOutput:
    """What a generative model (Phi-4) answered: its raw text, every turn's, and, when that could
    not be read in full, the scores it did read (the `paper` format's scoring turn), which
    evaluation may still use."""

    raw: str
    partial_scores: dict[str, int] | None = None

    def to_dict(self, scored: bool) -> dict[str, Any]:
        if scored:
            return {}
        return {"raw_output": self.raw} | ({"scores": self.partial_scores} if self.partial_scores else {})


@dataclass(frozen=True)
class AssessmentResult:
    """One recording's result from any engine, or a rater: the four scores, both transcripts
    and the phone diff against the reference; or a failure (`failure`: its reason and detail,
    e.g. a model answer that could not be read). Engines that score each word and phone (GOP)
    fill `word_scores` and `phone_scores`; `meaningless` marks a test model's; what only one
    engine has is in `detail`."""

    scores: dict[str, int] | None = None
    word_transcript: str | None = None
    phoneme_transcript: str | None = None
    phone_diff: SentenceDiff | None = None
    word_scores: tuple[WordScore, ...] = ()
    phone_scores: tuple[PhoneScore, ...] = ()
    flags: tuple[str, ...] = ()
    failure: RecordingFailure | None = None
    generation_ms: float | None = None
    meaningless: bool = False
    detail: AssessmentDetail | None = None

    def __post_init__(self) -> None:
        if (self.scores is None) == (self.failure is None):
            raise ValueError("an assessment has scores or a failure, and not both")

    @property
    def scored(self) -> bool:
        return self.scores is not None

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
        if self.scores is not None:
            body |= {
                "scores": self.scores,
                "word_transcript": self.word_transcript,
                "phoneme_transcript": self.phoneme_transcript,
                "words": [self._word_dict(word.to_dict()) for word in self.phone_diff.words] if self.phone_diff else [],
            }
            if self.phone_diff and self.phone_diff.unknown_words:
                body["unknown_words"] = self.phone_diff.unknown_words
        else:
            body |= {"reason": self.failure.reason.value, "detail": self.failure.detail}
        if self.detail is not None:
            body |= self.detail.to_dict(self.scored)
        if self.flags:
            body["flags"] = list(self.flags)
        return body | ({"meaningless": True} if self.meaningless else {})


def assess(
    reference_text: str, parsed: ModelAnswer | ParseFailure, raw_output: str, lexicon: Lexicon
) -> AssessmentResult:
    """Turn a generative model's parsed answer into an assessment with its phone-level diff."""
    if isinstance(parsed, ParseFailure):
        read = {aspect: parsed.partial[aspect] for aspect in SCORE_ASPECTS if aspect in parsed.partial}
        partial = {a: int(str(v)) for a, v in read.items()} if len(read) == len(SCORE_ASPECTS) else None
        failure = RecordingFailure(FailureReason.unparseable_output, parsed.reason)
        return AssessmentResult(failure=failure, flags=parsed.flags, detail=ModelOutput(raw_output, partial))
    phone_diff = diff(lexicon.entries_for(reference_text), parsed.phones)
    return AssessmentResult(
        scores=parsed.scores,
        word_transcript=parsed.word_transcript,
        phoneme_transcript=parsed.phoneme_transcript,
        phone_diff=phone_diff,
        flags=parsed.flags + tuple(f"unknown_word:{w}" for w in phone_diff.unknown_words),
        detail=ModelOutput(raw_output),
    )
