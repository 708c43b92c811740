import json
import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.conftest import SAMPLE_DIR
from training.data import DatasetError, load_dataset

runner = CliRunner()
LABELS = [json.loads(line) for line in (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()]


def _predictions(path: Path, labels: list[dict], scores_from: list[dict] | None = None) -> Path:
    from scoring.speechocean import parse_utterance

    with path.open("w") as handle:
        for label, scores in zip(labels, scores_from or labels, strict=True):
            u = parse_utterance(label)
            handle.write(json.dumps({
                "recording_id": u.utt, "status": "scored",
                "scores": {k: scores[k] for k in ("accuracy", "fluency", "prosodic", "total")},
                "word_transcript": u.word_transcript, "phoneme_transcript": u.phoneme_transcript,
            }) + "\n")  # fmt: skip
    return path


def test_release_folder_reader_keeps_the_official_split(tmp_path: Path) -> None:
    root = tmp_path / "speechocean762"
    scores = {}
    for part in ("train", "test"):
        (root / part).mkdir(parents=True)
        chosen = [label for label in LABELS if label["split"] == part][:5]
        with (root / part / "wav.scp").open("w") as scp, (root / part / "utt2spk").open("w") as spk:
            for label in chosen:
                target = root / label["audio"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(SAMPLE_DIR / label["audio"], target)
                scp.write(f"{label['utt']} {label['audio']}\n")
                spk.write(f"{label['utt']} {label['speaker']}\n")
                scores[label["utt"]] = {k: v for k, v in label.items() if k not in ("utt", "split", "audio", "speaker")}
    (root / "resource").mkdir()
    (root / "resource" / "scores.json").write_text(json.dumps(scores))

    train, test, both = (load_dataset(root, split) for split in ("train", "test", "all"))
    assert {e.utterance.split for e in train.examples} == {"train"} and len(train.examples) == 5
    assert {e.utterance.split for e in test.examples} == {"test"} and len(test.examples) == 5
    assert len(both.examples) == 10 and all(e.audio.is_file() for e in both.examples)
    assert train.examples[0].utterance.speaker
    assert train.fingerprint() != test.fingerprint()

    (root / "resource" / "scores.json").rename(root / "resource" / "scores-detail.json")
    with pytest.raises(DatasetError, match=r"scores-detail\.json"):
        load_dataset(root, "train")


def test_jsonl_form_and_its_split() -> None:
    sample = load_dataset(SAMPLE_DIR, "all")
    assert len(sample.examples) == 144
    assert len(load_dataset(SAMPLE_DIR / "labels.jsonl", "test").examples) == sum(
        1 for x in LABELS if x["split"] == "test"
    )


def _evaluate(predictions: Path, out: Path) -> dict:
    result = runner.invoke(
        app,
        ["evaluate", "--data", str(SAMPLE_DIR), "--split", "all", "--predictions", str(predictions), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "metrics.json").read_text())


def test_human_labels_as_predictions_score_perfectly(tmp_path: Path) -> None:
    predictions = _predictions(tmp_path / "labels-as-predictions.jsonl", LABELS)
    out = tmp_path / "eval"
    metrics = _evaluate(predictions, out)
    assert {a: round(metrics["pcc"][a]["pcc"], 6) for a in metrics["pcc"]} == {
        "accuracy": 1.0, "fluency": 1.0, "prosodic": 1.0, "total": 1.0
    }  # fmt: skip
    assert (metrics["wer"], metrics["per"]) == (0.0, 0.0)
    assert metrics["mdd"]["f1"] == 1.0 and metrics["mdd"]["tr"] > 0
    report = (out / "report.md").read_text()
    assert "Ahn & Nam 2025, LoRA, epoch 3 | 0.656 | 0.727 | 0.711 | 0.675" in report
    assert all((out / f"scatter-{a}.png").read_bytes()[:4] == b"\x89PNG" for a in metrics["pcc"])


def test_shuffled_predictions_correlate_near_zero(tmp_path: Path) -> None:
    shuffled = list(LABELS)
    random.Random(7).shuffle(shuffled)
    predictions = _predictions(tmp_path / "shuffled.jsonl", LABELS, scores_from=shuffled)
    out = tmp_path / "eval"
    metrics = _evaluate(predictions, out)
    assert all(abs(metrics["pcc"][a]["pcc"]) < 0.3 for a in metrics["pcc"])


def test_unparseable_and_missing_predictions_are_counted(tmp_path: Path) -> None:
    predictions = _predictions(tmp_path / "p.jsonl", LABELS[:3])
    lines = predictions.read_text().splitlines()
    lines[0] = json.dumps({"recording_id": LABELS[0]["utt"], "status": "failed", "reason": "unparseable_output"})
    predictions.write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval"
    metrics = _evaluate(predictions, out)
    assert (metrics["evaluated"], metrics["unparseable"], metrics["missing_predictions"]) == (3, 1, 141)
    assert metrics["pcc"]["total"]["n"] == 2
    assert metrics["per"] > 0  # the unparseable one counts as all phones deleted


def _with_format(path: Path, task_format: str, failed_transcripts: int = 0) -> Path:
    """The predictions marked with the task format that made them; the first
    `failed_transcripts` failed as a paper-format answer whose transcription turn did not parse."""
    records = [json.loads(line) | {"model": {"task_format": task_format}} for line in path.read_text().splitlines()]
    for record in records[:failed_transcripts]:
        for key in ("word_transcript", "phoneme_transcript"):
            del record[key]
        record |= {"status": "failed", "reason": "unparseable_output", "detail": "missing word_transcript"}
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_failed_transcription_turn_keeps_the_recordings_scores_in_the_correlations(tmp_path: Path) -> None:
    predictions = _with_format(_predictions(tmp_path / "p.jsonl", LABELS[:5]), "paper", failed_transcripts=1)
    out = tmp_path / "eval"
    metrics = _evaluate(predictions, out)
    assert metrics["pcc"]["total"]["n"] == 5
    assert (metrics["unparseable"], metrics["unparseable_scores_kept"]) == (1, 1)
    assert metrics["per"] > 0  # its transcripts still count as empty
    report = (out / "report.md").read_text()
    assert "1 of these kept their scores" in report
    assert "†" not in report, "the paper format's transcripts compare with the paper's"


def test_the_report_says_joint_v1_transcripts_do_not_compare_and_counts_insertions(tmp_path: Path) -> None:
    predictions = _with_format(_predictions(tmp_path / "p.jsonl", LABELS[:5]), "joint-v1")
    out = tmp_path / "eval"
    metrics = _evaluate(predictions, out)
    report = (out / "report.md").read_text()
    ours = next(line for line in report.splitlines() if line.startswith("| p |"))
    assert ours.count("†") == 5, "WER, PER and the three MDD columns are marked"
    assert "Not comparable with the paper's row: `joint-v1` puts the reference sentence in the prompt" in report
    inserted = metrics["mdd"]["insertions"]
    assert f"the {inserted} phones the model inserted" in report and "PER counts each as an error" in report
