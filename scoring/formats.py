"""Task formats: what the model is asked (prompts) and what it should answer (targets).

One source of truth for inference and training. A format is versioned by name; changing a
prompt means a new name, because assessments record which format produced them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from scoring.parsing import ModelAnswer, ParseFailure, parse_outputs
from scoring.scores import SCORE_ASPECTS
from scoring.speechocean import RatedUtterance
from scoring.text import normalize_text

AUDIO_PLACEHOLDER = "<|audio_1|>"


@cache
def _paper_prompt(name: str) -> str:
    """One of the paper's prompt files, read once per process (every recording's turns use it)."""
    return resources.files("scoring").joinpath(f"data/{name}").read_text(encoding="utf-8").strip()


def _rubric() -> str:
    """The paper's scoring rubric without its answer layout, which the joint formats replace."""
    return _paper_prompt("paper-apa.txt").split("\n\nProvide the results")[0]


@dataclass(frozen=True)
class Turn:
    """One generation: a user turn with the audio, answered by one JSON object (`json`) or by
    one line per value, the four scores sharing the first (`lines`)."""

    key: str
    control: str
    instruction: str
    fields: tuple[str, ...]
    answer: Literal["json", "lines"] = "json"

    def chat(self) -> str:
        """The prompt in Phi-4's chat layout; the audio placeholder is expanded by the engine."""
        return f"<|user|>{self.control}{AUDIO_PLACEHOLDER}{self.instruction}<|end|><|assistant|>"


TRANSCRIPT_FIELDS = ("word_transcript", "phoneme_transcript")

_JOINT_INSTRUCTION = """{rubric}

The learner was asked to read: "{reference}"

Also transcribe the audio utterance, providing both a word-level transcript and phoneme-level breakdown. \
For the phoneme breakdown, use the CMU Pronouncing Dictionary format without stress digits (e.g., AA, IH). \
If a word or phoneme is unclear, mark it with '<unk>'.

"""
_JSON_ANSWER = """Provide the results in the following JSON format:
{"accuracy": ACCURACY_SCORE, "fluency": FLUENCY_SCORE, "prosodic": PROSODIC_SCORE, "total": TOTAL_SCORE, \
"word_transcript": WORDS, "phoneme_transcript": PHONES}"""
# About half the tokens of the JSON answer (no keys, quotes or braces), for the same six values.
_LINES_ANSWER = """Provide the results in exactly three lines and nothing else:
ACCURACY_SCORE FLUENCY_SCORE PROSODIC_SCORE TOTAL_SCORE
WORDS
PHONES"""


@dataclass(frozen=True)
class TaskFormat:
    name: str

    def turns(self, reference_text: str) -> list[Turn]:
        if self.name == "paper":
            return [
                Turn("apa", "<|APA|>", _paper_prompt("paper-apa.txt"), SCORE_ASPECTS),
                Turn("mdd", "<|MDD|>", _paper_prompt("paper-mdd.txt"), TRANSCRIPT_FIELDS),
            ]
        instruction = _JOINT_INSTRUCTION.format(rubric=_rubric(), reference=normalize_text(reference_text))
        fields = SCORE_ASPECTS + TRANSCRIPT_FIELDS
        if self.name == "terse-v1":
            return [Turn("terse", "", instruction + _LINES_ANSWER, fields, answer="lines")]
        return [Turn("joint", "", instruction + _JSON_ANSWER, fields)]

    def targets(self, utterance: RatedUtterance) -> list[str]:
        """The answer for each turn: double-quoted JSON (what the parser reads first), or lines."""
        values: dict[str, object] = {
            **utterance.scores,
            "word_transcript": utterance.word_transcript,
            "phoneme_transcript": utterance.phoneme_transcript,
        }
        targets = []
        for turn in self.turns(utterance.text):
            if turn.answer == "lines":
                targets.append(
                    "\n".join(
                        [" ".join(str(values[a]) for a in SCORE_ASPECTS), *map(str, map(values.get, TRANSCRIPT_FIELDS))]
                    )
                )
            else:
                targets.append(json.dumps({key: values[key] for key in turn.fields}))
        return targets

    def parse(self, outputs: Sequence[str]) -> ModelAnswer | ParseFailure:
        """One recording's answer from its generations, one per turn."""
        turns = self.turns("")
        return parse_outputs(outputs, [t.fields for t in turns], [t.answer for t in turns])

    def max_new_tokens(self, reference_text: str) -> list[int]:
        """A decoding budget per turn: scores take about 30 tokens, transcripts about 8 per word."""
        words = len(normalize_text(reference_text).split())
        budgets = []
        for turn in self.turns(reference_text):
            if turn.answer == "lines":  # the four scores take about 8 tokens, the transcripts as below
                budgets.append(min(16 + 8 * words, 512))
                continue
            budget = 16
            if "accuracy" in turn.fields:
                budget += 32
            if "phoneme_transcript" in turn.fields:
                budget += 16 + 8 * words
            budgets.append(min(budget, 512))
        return budgets


FORMATS = {name: TaskFormat(name) for name in ("joint-v1", "paper", "terse-v1")}
DEFAULT_FORMAT = "joint-v1"  # served when neither the settings nor an adapter's manifest name one


def get_format(name: str) -> TaskFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown task format {name!r}; choose one of {', '.join(FORMATS)}") from None
