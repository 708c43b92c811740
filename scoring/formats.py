"""Task formats: what the model is asked (prompts) and what it should answer (targets).

One source of truth for inference and training. A format is versioned by name; changing a
prompt means a new name, because assessments record which format produced them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from scoring.scores import SCORE_ASPECTS
from scoring.speechocean import RatedUtterance
from scoring.text import normalize_text

AUDIO_PLACEHOLDER = "<|audio_1|>"


def _paper_prompt(name: str) -> str:
    return resources.files("scoring").joinpath(f"data/{name}").read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Turn:
    """One generation: a user turn with the audio, answered by one JSON object."""

    key: str
    control: str
    instruction: str
    fields: tuple[str, ...]

    def chat(self) -> str:
        """The prompt in Phi-4's chat layout; the audio placeholder is expanded by the engine."""
        return f"<|user|>{self.control}{AUDIO_PLACEHOLDER}{self.instruction}<|end|><|assistant|>"


TRANSCRIPT_FIELDS = ("word_transcript", "phoneme_transcript")

_JOINT_INSTRUCTION = """{rubric}

The learner was asked to read: "{reference}"

Also transcribe the audio utterance, providing both a word-level transcript and phoneme-level breakdown. \
For the phoneme breakdown, use the CMU Pronouncing Dictionary format without stress digits (e.g., AA, IH). \
If a word or phoneme is unclear, mark it with '<unk>'.

Provide the results in the following JSON format:
{{"accuracy": ACCURACY_SCORE, "fluency": FLUENCY_SCORE, "prosodic": PROSODIC_SCORE, "total": TOTAL_SCORE, \
"word_transcript": WORDS, "phoneme_transcript": PHONES}}"""


@dataclass(frozen=True)
class TaskFormat:
    name: str

    def turns(self, reference_text: str) -> list[Turn]:
        if self.name == "paper":
            return [
                Turn("apa", "<|APA|>", _paper_prompt("paper-apa.txt"), SCORE_ASPECTS),
                Turn("mdd", "<|MDD|>", _paper_prompt("paper-mdd.txt"), TRANSCRIPT_FIELDS),
            ]
        rubric = _paper_prompt("paper-apa.txt").split("\n\nProvide the results")[0]
        instruction = _JOINT_INSTRUCTION.format(rubric=rubric, reference=normalize_text(reference_text))
        return [Turn("joint", "", instruction, SCORE_ASPECTS + TRANSCRIPT_FIELDS)]

    def targets(self, utterance: RatedUtterance) -> list[str]:
        """The answer for each turn, as double-quoted JSON (what the parser reads first)."""
        values: dict[str, object] = {
            **utterance.scores,
            "word_transcript": utterance.word_transcript,
            "phoneme_transcript": utterance.phoneme_transcript,
        }
        return [json.dumps({key: values[key] for key in turn.fields}) for turn in self.turns(utterance.text)]

    def max_new_tokens(self, reference_text: str) -> list[int]:
        """A decoding budget per turn: scores take about 30 tokens, transcripts about 8 per word."""
        words = len(normalize_text(reference_text).split())
        budgets = []
        for turn in self.turns(reference_text):
            budget = 16
            if "accuracy" in turn.fields:
                budget += 32
            if "phoneme_transcript" in turn.fields:
                budget += 16 + 8 * words
            budgets.append(min(budget, 512))
        return budgets


FORMATS = {name: TaskFormat(name) for name in ("joint-v1", "paper")}


def get_format(name: str) -> TaskFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown task format {name!r}; choose one of {', '.join(FORMATS)}") from None
