import pytest

from scoring.formats import TRANSCRIPT_FIELDS
from scoring.parsing import ModelAnswer, ParseFailure, parse_outputs
from scoring.scores import SCORE_ASPECTS

JOINT = [SCORE_ASPECTS + TRANSCRIPT_FIELDS]
GOOD = {"accuracy": 7, "fluency": 8, "prosodic": 7, "total": 7}

CASES = [
    (
        "double-quoted JSON",
        '{"accuracy": 7, "fluency": 8, "prosodic": 7, "total": 7, "word_transcript": "we call it bear",'
        ' "phoneme_transcript": "W IY K AO L IH T B EH R"}',
        ModelAnswer(GOOD, "WE CALL IT BEAR", "W IY K AO L IH T B EH R"),
    ),
    (
        "single quotes and an apostrophe inside",
        "{'accuracy': 7, 'fluency': 8, 'prosodic': 7, 'total': 7, 'word_transcript': 'LET'S GO',"
        " 'phoneme_transcript': 'L EH T S G OW'}",
        ModelAnswer(GOOD, "LET'S GO", "L EH T S G OW", ("salvaged",)),
    ),
    (
        "code fence, prose around, floats, stress digits",
        'Here is my assessment:\n```json\n{"accuracy": 7.0, "fluency": 8, "prosodic": 6.6, "total": 7,'
        ' "word_transcript": "GO", "phoneme_transcript": "G OW1"}\n```\nLet me know!',
        ModelAnswer({**GOOD, "prosodic": 7}, "GO", "G OW", ("rounded:prosodic",)),
    ),
    (
        "scores 11 and -1 are clipped and flagged",
        '{"accuracy": 11, "fluency": -1, "prosodic": 7, "total": 7, "word_transcript": "GO",'
        ' "phoneme_transcript": "G OW"}',
        ModelAnswer({**GOOD, "accuracy": 10, "fluency": 0}, "GO", "G OW", ("clipped:accuracy", "clipped:fluency")),
    ),
    (
        "unknown phone symbols become <unk>",
        '{"accuracy": 7, "fluency": 8, "prosodic": 7, "total": 7, "word_transcript": "GO",'
        ' "phoneme_transcript": "G AX <UNK>"}',
        ModelAnswer(GOOD, "GO", "G <unk> <unk>"),
    ),
    (
        "truncated mid-JSON",
        '{"accuracy": 7, "fluency": 8, "prosodic": 7, "total": 7, "word_transcript": "WE CALL", "phoneme_tr',
        ParseFailure("missing phoneme_transcript", "", ("salvaged",)),
    ),
    (
        "prose only",
        "The pronunciation is quite good overall.",
        ParseFailure("missing " + ", ".join(JOINT[0]), ""),
    ),
    (
        "missing total",
        '{"accuracy": 7, "fluency": 8, "prosodic": 7, "word_transcript": "GO", "phoneme_transcript": "G OW"}',
        ParseFailure("missing total", ""),
    ),
    ("empty output", "", ParseFailure("missing " + ", ".join(JOINT[0]), "")),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parser_reads_what_models_emit(raw: str, expected: ModelAnswer | ParseFailure) -> None:
    result = parse_outputs([raw], JOINT)
    if isinstance(expected, ParseFailure):
        assert isinstance(result, ParseFailure)
        assert (result.reason, result.flags) == (expected.reason, expected.flags)
        assert result.raw == raw
    else:
        assert result == expected


def test_paper_format_merges_two_generations() -> None:
    apa = "{'accuracy': 6, 'fluency': 7, 'prosodic': 7, 'total': 6}"
    mdd = "{'word_transcript': 'WE CALL IT BEAR', 'phoneme_transcript': 'W IY K AO L IH T B EH'}"
    result = parse_outputs([apa, mdd], [SCORE_ASPECTS, TRANSCRIPT_FIELDS])
    assert isinstance(result, ModelAnswer)
    assert result.scores == {"accuracy": 6, "fluency": 7, "prosodic": 7, "total": 6}
    assert result.phones[-2:] == ["B", "EH"]


def test_paper_format_failure_keeps_both_raw_outputs() -> None:
    result = parse_outputs(
        ["no scores", "{'word_transcript': 'A', 'phoneme_transcript': 'AH'}"],
        [SCORE_ASPECTS, TRANSCRIPT_FIELDS],
    )
    assert isinstance(result, ParseFailure)
    assert "no scores" in result.raw and "word_transcript" in result.raw


LINES = ["lines"]


def test_terse_lines_parse_with_fences_floats_and_flags() -> None:
    raw = "```\n7 8 6.6 11\nwe call it bear\nW IY1 K AO L IH T B EH R\n```"
    result = parse_outputs([raw], JOINT, LINES)
    assert result == ModelAnswer(
        {**GOOD, "prosodic": 7, "total": 10}, "WE CALL IT BEAR", "W IY K AO L IH T B EH R",
        ("rounded:prosodic", "clipped:total"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("7 8 7\nGO\nG OW", "missing total"),
        ("7 8 7 7\nGO", "missing phoneme_transcript"),
        ("", "missing accuracy, fluency, prosodic, total, word_transcript, phoneme_transcript"),
    ],
)
def test_terse_lines_missing_values_are_named(raw: str, reason: str) -> None:
    result = parse_outputs([raw], JOINT, LINES)
    assert isinstance(result, ParseFailure) and result.reason == reason and result.raw == raw


def test_paper_format_failed_transcription_keeps_the_scores_it_read() -> None:
    from scoring.assessment import assess
    from scoring.lexicon import default_lexicon

    apa = "{'accuracy': 6, 'fluency': 7, 'prosodic': 7, 'total': 6}"
    result = parse_outputs([apa, "I cannot transcribe this."], [SCORE_ASPECTS, TRANSCRIPT_FIELDS])
    assert isinstance(result, ParseFailure) and result.reason == "missing word_transcript, phoneme_transcript"
    assert result.partial == {"accuracy": 6, "fluency": 7, "prosodic": 7, "total": 6}
    body = assess("WE CALL IT BEAR", result, result.raw, default_lexicon()).to_dict()
    assert body["status"] == "failed" and body["reason"] == "unparseable_output"
    assert body["scores"] == {"accuracy": 6, "fluency": 7, "prosodic": 7, "total": 6}
    failed_scores = parse_outputs(["no scores", "{'word_transcript': 'A', 'phoneme_transcript': 'AH'}"],
                                  [SCORE_ASPECTS, TRANSCRIPT_FIELDS])  # fmt: skip
    assert "scores" not in assess("A", failed_scores, "", default_lexicon()).to_dict()
