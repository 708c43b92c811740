"""Reading what the model really emits.

Models wrap JSON in code fences, use Python quotes, add prose, write `7.0` for 7, stop
mid-answer or drift out of range. The parser recovers what it can, flags what it had to
change, and returns a typed failure that keeps the raw text when a required field is gone.
It never raises on model output.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from scoring.phones import split_phones
from scoring.scores import SCORE_ASPECTS, SCORE_RANGE
from scoring.text import normalize_text

_FENCE = re.compile(r"```[a-zA-Z]*")


@dataclass(frozen=True)
class ModelAnswer:
    """One recording's parsed answer: four scores 0-10 and two transcripts."""

    scores: dict[str, int]
    word_transcript: str
    phoneme_transcript: str
    flags: tuple[str, ...] = ()

    @property
    def phones(self) -> list[str]:
        return split_phones(self.phoneme_transcript)


@dataclass(frozen=True)
class ParseFailure:
    reason: str
    raw: str
    flags: tuple[str, ...] = field(default=())
    # The fields of the turns that did parse (the `paper` format's scores when only its
    # transcription turn failed): not an answer, but evaluation may still use them.
    partial: dict[str, object] = field(default_factory=dict)


def _balanced_object(text: str) -> str | None:
    """The first `{...}` with balanced braces outside quotes, or None."""
    start = text.find("{")
    if start < 0:
        return None
    depth, quote = 0, ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == "\\":
                continue
            if char == quote and not (quote == "'" and text[index + 1 : index + 2].isalpha()):
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return None


def _load_object(text: str) -> dict[str, object] | None:
    candidate = _balanced_object(text)
    if candidate is None:
        return None
    for loader in (json.loads, ast.literal_eval):
        try:
            value = loader(candidate)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            continue
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
    return None


def _salvage(text: str, fields: Sequence[str]) -> dict[str, object]:
    """Field-by-field extraction for answers that are not a complete object."""
    found: dict[str, object] = {}
    for name in fields:
        if name in SCORE_ASPECTS:
            match = re.search(rf"['\"]?{name}['\"]?\s*[:=]\s*['\"]?(-?\d+(?:\.\d+)?)", text, re.I)
            if match:
                found[name] = match.group(1)
        else:
            match = re.search(rf"['\"]{name}['\"]\s*:\s*(['\"])(.*?)\1\s*(?=[,}}]|$)", text, re.I | re.S)
            if match:
                found[name] = match.group(2)
    return found


def _score(value: object) -> tuple[int | None, list[str]]:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None, []
    if not math.isfinite(number):
        return None, []
    flags = []
    rounded = math.floor(number + 0.5)
    if rounded != number:
        flags.append("rounded")
    low, high = SCORE_RANGE
    clipped = min(max(rounded, low), high)
    if clipped != rounded:
        flags.append("clipped")
    return int(clipped), flags


def parse_answer(raw: str, fields: Sequence[str]) -> dict[str, object] | ParseFailure:
    """Parse one generation that should hold `fields`; returns values and a `flags` list."""
    text = _FENCE.sub("", raw)
    loaded = _load_object(text)
    flags: list[str] = []
    if loaded is None:
        loaded = _salvage(text, fields)
        if loaded:
            flags.append("salvaged")
    values: dict[str, object] = {}
    for name in fields:
        if name not in loaded or loaded[name] is None:
            continue
        if name in SCORE_ASPECTS:
            score, score_flags = _score(loaded[name])
            if score is not None:
                values[name] = score
                flags.extend(f"{flag}:{name}" for flag in score_flags)
        else:
            values[name] = str(loaded[name]).strip()
    missing = [name for name in fields if name not in values]
    if missing:
        return ParseFailure(f"missing {', '.join(missing)}", raw, tuple(flags))
    values["flags"] = flags
    return values


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_lines(raw: str, fields: Sequence[str]) -> dict[str, object] | ParseFailure:
    """Parse a `lines` answer: the scores (in the order of `fields`) on the first line, then
    one line per transcript; returns values and a `flags` list."""
    lines = _FENCE.sub("", raw).strip().split("\n")
    scores = [name for name in fields if name in SCORE_ASPECTS]
    values: dict[str, object] = {}
    flags: list[str] = []
    for name, number in zip(scores, _NUMBER.findall(lines[0]), strict=False):
        score, score_flags = _score(number)
        if score is not None:
            values[name] = score
            flags.extend(f"{flag}:{name}" for flag in score_flags)
    for name, line in zip([f for f in fields if f not in SCORE_ASPECTS], lines[1:], strict=False):
        values[name] = line.strip()
    missing = [name for name in fields if name not in values]
    if missing:
        return ParseFailure(f"missing {', '.join(missing)}", raw, tuple(flags))
    values["flags"] = flags
    return values


def parse_outputs(
    outputs: Sequence[str], turn_fields: Sequence[Sequence[str]], answers: Sequence[str] | None = None
) -> ModelAnswer | ParseFailure:
    """Combine the generations of one recording (one per turn of its task format); `answers`
    says how each turn answers, `json` (the default) or `lines`. A failed turn fails the
    answer, keeping what the other turns gave in `partial`."""
    merged: dict[str, object] = {}
    flags: list[str] = []
    failure: ParseFailure | None = None
    styles = answers or ["json"] * len(turn_fields)
    for raw, fields, style in zip(outputs, turn_fields, styles, strict=True):
        parsed = parse_lines(raw, fields) if style == "lines" else parse_answer(raw, fields)
        if isinstance(parsed, ParseFailure):
            failure = failure or parsed
            continue
        flags.extend(parsed.pop("flags"))  # type: ignore[arg-type]
        merged.update(parsed)
    if failure is not None:
        return ParseFailure(failure.reason, "\n\n".join(outputs), failure.flags, partial=merged)
    return ModelAnswer(
        scores={name: int(merged[name]) for name in SCORE_ASPECTS},  # type: ignore[call-overload]
        word_transcript=normalize_text(str(merged["word_transcript"])),
        phoneme_transcript=" ".join(split_phones(str(merged["phoneme_transcript"]))),
        flags=tuple(flags),
    )
