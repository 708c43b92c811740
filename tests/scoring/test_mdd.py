"""The MDD diff on hand-made cases and on every utterance of the real speechocean762 sample."""

import json

import pytest

from scoring.lexicon import Lexicon, WordEntry
from scoring.mdd import diff
from scoring.speechocean import parse_utterance
from tests.conftest import SAMPLE_DIR

UTTERANCES = [parse_utterance(json.loads(line)) for line in (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()]


def _word_ops(result) -> list[list[tuple[str, str | None, str | None]]]:
    return [[(e.op.value, e.expected, e.actual) for e in w.ops if e.op.value != "match"] for w in result.words]


def _annotated_ops(word) -> list[tuple[str, str, str | None]]:
    ops = []
    for m in sorted(word.mispronunciations, key=lambda m: m.index):
        if m.pronounced == "<DEL>":
            ops.append(("deletion", m.canonical, None))
        else:
            actual = "<unk>" if m.pronounced.endswith("*") or m.pronounced == "<unk>" else m.pronounced
            ops.append(("substitution", m.canonical, actual))
    return ops


def _unk_beside_deletion(word) -> bool:
    """Whether the heard phones cannot say which phone was unclear: an `<unk>` next to a deletion
    (T IH L heard as `<unk>` fits T, IH or L equally)."""
    marks = {m.index: m.pronounced for m in word.mispronunciations}
    for index, mark in marks.items():
        unclear = mark.endswith("*") or mark == "<unk>"
        if unclear and "<DEL>" in (marks.get(index - 1), marks.get(index + 1)):
            return True
    return False


AMBIGUOUS = [(u, w) for u in UTTERANCES for w in u.words if _unk_beside_deletion(w)]


@pytest.mark.parametrize("utterance", UTTERANCES, ids=[u.utt for u in UTTERANCES])
def test_annotated_mispronunciations_are_recovered_word_by_word(utterance) -> None:
    heard = [p for word in utterance.words for p in word.pronounced_phones()]
    result = diff(utterance.word_entries(), heard)
    assert [w.text for w in result.words] == [w.text for w in utterance.words]
    for word, got in zip(utterance.words, _word_ops(result), strict=True):
        expected = _annotated_ops(word)
        if _unk_beside_deletion(word):
            # Same phones affected, same number of each operation; which one was unclear is unknowable.
            assert sorted(op[1] for op in got) == sorted(op[1] for op in expected)
            assert sorted(op[0] for op in got) == sorted(op[0] for op in expected)
        else:
            assert got == expected


def test_only_a_few_words_are_ambiguous() -> None:
    assert len(AMBIGUOUS) <= 3


def test_sample_has_annotations_to_check() -> None:
    annotated = sum(len(w.mispronunciations) for u in UTTERANCES for w in u.words)
    assert len(UTTERANCES) == 144 and annotated > 50


def test_best_variant_means_a_correct_alternative_is_not_an_error() -> None:
    lexicon = Lexicon.from_lines(["EITHER IY1 DH ER0", "EITHER AY1 DH ER0", "WAY W EY1"])
    result = diff(lexicon.entries_for("either way"), "AY DH ER W EY".split())
    assert result.errors == 0
    assert result.words[0].expected == ["AY", "DH", "ER"]


def test_errors_are_attributed_to_their_words_and_insertions_to_the_previous_word() -> None:
    entries = [WordEntry("WE", (("W", "IY"),)), WordEntry("CALL", (("K", "AO", "L"),))]
    result = diff(entries, "W IY AH K AA".split())
    assert [w.errors for w in result.words] == [1, 2]
    assert [(e.op.value, e.actual) for e in result.words[0].ops][-1] == ("insertion", "AH")
    assert result.words[1].actual == ["K", "AA"]


def test_unknown_words_are_flagged_not_guessed() -> None:
    lexicon = Lexicon.from_lines(["THE DH AH0"])
    result = diff(lexicon.entries_for("the zorblax"), "DH AH Z AO".split())
    assert result.unknown_words == ["ZORBLAX"]
    assert result.words[1].to_dict()["unknown_word"] is True
    assert result.words[1].expected == []
