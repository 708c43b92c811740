import json

import pytest

from scoring.formats import get_format
from scoring.lexicon import default_lexicon
from scoring.parsing import ModelAnswer
from scoring.phones import UnknownPhoneError, normalize_phone, split_phones, strip_stress
from scoring.speechocean import LabelError, parse_utterance
from scoring.text import normalize_text
from tests.conftest import ROOT, SAMPLE_DIR

LABELS = [json.loads(line) for line in (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()]


def _record(utt: str) -> dict:
    return next(label for label in LABELS if label["utt"] == utt)


def test_paper_prompts_are_verbatim_with_control_tokens() -> None:
    apa, mdd = get_format("paper").turns("WE CALL IT BEAR")
    # The paper's appendix 7.1 and 7.2 as published, kept beside the tests.
    text = (ROOT / "tests" / "data" / "paper-prompts.md").read_text()
    assert apa.instruction in text and mdd.instruction in text
    assert apa.chat().startswith("<|user|><|APA|><|audio_1|>Rate the pronunciation of the audio.")
    assert mdd.chat().startswith("<|user|><|MDD|><|audio_1|>Transcribe the audio utterance")
    assert apa.chat().endswith("<|end|><|assistant|>")


def test_joint_prompt_names_the_reference_and_all_six_fields() -> None:
    (turn,) = get_format("joint-v1").turns("Let's go, Tom!")
    assert "LET'S GO TOM" in turn.instruction
    for name in ("accuracy", "fluency", "prosodic", "total", "word_transcript", "phoneme_transcript"):
        assert f'"{name}"' in turn.instruction


def test_targets_apply_deletions_distortions_and_substitutions() -> None:
    # 000010011: WE CALL IT BEAR, with BEAR's EH and R marked; check against the labels themselves.
    utterance = parse_utterance(_record("000010011"))
    (target,) = get_format("joint-v1").targets(utterance)
    answer = json.loads(target)
    assert answer["word_transcript"] == "WE CALL IT BEAR"
    assert {k: answer[k] for k in ("accuracy", "fluency", "prosodic", "total")} == utterance.scores
    assert answer["phoneme_transcript"] == utterance.phoneme_transcript


def test_pronounced_phones_rules() -> None:
    record = {
        "utt": "x", "text": "STREET", "accuracy": 5, "fluency": 5, "prosodic": 5, "total": 5,
        "words": [{
            "text": "STREET", "phones": ["S", "T", "R", "IY1", "T"],
            "mispronunciations": [
                {"canonical-phone": "S", "index": 0, "pronounced-phone": "<DEL>"},
                {"canonical-phone": "T", "index": 1, "pronounced-phone": "T*"},
                {"canonical-phone": "R", "index": 2, "pronounced-phone": "<unk>"},
                {"canonical-phone": "IY", "index": 3, "pronounced-phone": "IH"},
                {"canonical-phone": "T", "index": 4, "pronounced-phone": "T S"},
            ],
        }],
    }  # fmt: skip
    assert parse_utterance(record).phoneme_transcript == "<unk> <unk> IH T S"


def test_targets_round_trip_through_the_parser() -> None:
    for fmt in ("joint-v1", "paper", "terse-v1"):
        task = get_format(fmt)
        for label in LABELS[:20]:
            utterance = parse_utterance(label)
            parsed = task.parse(task.targets(utterance))
            assert isinstance(parsed, ModelAnswer)
            assert parsed.scores == utterance.scores
            assert parsed.phoneme_transcript == utterance.phoneme_transcript


def test_terse_answers_are_three_lines_for_the_same_prompt_and_values() -> None:
    (joint,) = get_format("joint-v1").turns("WE CALL IT BEAR")
    (terse,) = get_format("terse-v1").turns("WE CALL IT BEAR")
    assert terse.answer == "lines" and joint.answer == "json"
    shared = joint.instruction.split("Provide the results")[0]
    assert terse.instruction.startswith(shared), "the same rubric, reference and transcription instruction"
    (target,) = get_format("terse-v1").targets(parse_utterance(_record("000010011")))
    assert target == "8 9 9 8\nWE CALL IT BEAR\nW IY K AO L IH T B EH R"


def test_every_sample_answer_fits_its_budget_with_a_margin() -> None:
    """Budgets against the offline tokenizer's count of the true answers (with its end token)."""
    from training.tokenizer import build_tokenizer

    utterances = [parse_utterance(label) for label in LABELS]
    tokenizer = build_tokenizer(utterances, whole_prompts=False)
    for fmt in ("joint-v1", "paper", "terse-v1"):
        task = get_format(fmt)
        for utterance in utterances:
            for target, budget in zip(task.targets(utterance), task.max_new_tokens(utterance.text), strict=True):
                assert len(tokenizer(target)["input_ids"]) + 1 <= budget - 4, (fmt, utterance.utt)


def test_decoding_budget_grows_with_the_sentence() -> None:
    joint = get_format("joint-v1")
    assert joint.max_new_tokens("GO")[0] < joint.max_new_tokens("WE CALL IT A BEAR IN THE WOODS")[0]
    assert len(get_format("paper").max_new_tokens("GO")) == 2


def test_unknown_format_is_named() -> None:
    with pytest.raises(ValueError, match="unknown task format 'joint-v9'"):
        get_format("joint-v9")


def test_bad_label_records_raise_label_errors() -> None:
    record = dict(_record("000010011"), total=12)
    with pytest.raises(LabelError, match="total score 12 is outside 0-10"):
        parse_utterance(record)
    with pytest.raises(LabelError, match="missing field 'text'"):
        parse_utterance({k: v for k, v in _record("000010011").items() if k != "text"})


def test_phone_and_text_normalisation() -> None:
    assert strip_stress("AH0") == "AH" and normalize_phone("ah1") == "AH"
    assert normalize_phone("AH1", keep_stress=True) == "AH1"
    with pytest.raises(UnknownPhoneError):
        normalize_phone("AX")
    assert split_phones("DH AX <UNK> iy0") == ["DH", "<unk>", "<unk>", "IY"]
    assert normalize_text("Well-known, isn\u2019t it?  'Yes.'") == "WELL KNOWN ISN'T IT YES"


def test_default_lexicon_knows_the_sample_and_keeps_variants() -> None:
    lexicon = default_lexicon()
    words = {w["text"] for label in LABELS for w in label["words"]}
    assert all(word in lexicon for word in words)
    assert len(lexicon.variants("EITHER")) >= 2
    assert lexicon.entries_for("the zorblaxian")[1].known is False


def test_prompt_files_are_read_once_not_for_every_recording_and_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import resources

    import scoring.formats

    reads = []
    files = resources.files

    class CountingFiles:
        def __init__(self, package: str) -> None:
            self.root = files(package)

        def joinpath(self, name: str) -> "CountingFiles":
            self.root = self.root.joinpath(name)
            return self

        def read_text(self, encoding: str) -> str:
            reads.append(self.root.name)
            return self.root.read_text(encoding=encoding)

    monkeypatch.setattr(scoring.formats.resources, "files", CountingFiles)
    for name in ("paper", "joint-v1", "terse-v1"):
        for _ in range(50):
            get_format(name).turns("WE CALL IT BEAR")
    assert len(reads) <= 2, f"{len(reads)} reads of the prompt files"
