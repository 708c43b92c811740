"""`pronscore train-gop`, and `score` and `evaluate` with the GOP engine, on a dozen sample recordings."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from engines.gop.features import UTTERANCE_FEATURES
from tests.conftest import SAMPLE_DIR

METHODS = {"gop-v2", "gop-nn-v2"}  # PocketSphinx alone, or with the neural front end where its weights are installed


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve labelled utterances, three of each of four speakers (the fewest whose ratings
    `train-gop` cross-validates), with absolute audio paths."""
    lines = (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()
    by_speaker: dict[str, list[dict]] = {}
    for record in map(json.loads, lines):
        by_speaker.setdefault(record["speaker"], []).append(record)
    records = [record for speaker in sorted(by_speaker)[:4] for record in by_speaker[speaker][:3]]
    for record in records:
        record["audio"] = str(SAMPLE_DIR / record["audio"])
    path = tmp_path_factory.mktemp("gop") / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_train_gop_writes_a_calibration_that_score_serves(subset: Path, tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    trained = CliRunner().invoke(app, ["train-gop", "--data", str(subset), "--out", str(out), "--version", "school-1"])
    assert trained.exit_code == 0, trained.output
    body = json.loads(out.read_text())
    assert body["version"] == "school-1" and body["trained_on"]["utterances"] == 12
    assert set(body["models"]) == {"phone", "word", "accuracy", "fluency", "prosodic", "total"}
    assert set(UTTERANCE_FEATURES) <= set(body["models"]["total"]["features"])  # every candidate

    wav = SAMPLE_DIR / json.loads(subset.read_text().splitlines()[0])["audio"]
    scored = CliRunner().invoke(
        app, ["score", str(wav), "--text", "WE CALL IT BEAR", "--engine", "gop", "--calibration", str(out)]
    )
    assert scored.exit_code == 0, scored.output
    assessment = json.loads(scored.stdout.splitlines()[-1])
    assert assessment["model"]["task_format"] in METHODS and "school-1" in assessment["model"]["name"]
    assert all("accuracy" in word and "phones" in word for word in assessment["words"])


def test_train_gop_on_a_folder_without_labels_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train-gop", "--data", str(tmp_path), "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "neither a speechocean762 release folder" in result.output


def test_evaluate_with_the_gop_engine_writes_predictions_and_metrics(subset: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app, ["evaluate", "--engine", "gop", "--data", str(subset), "--split", "all", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 12 and all(p["model"]["task_format"] in METHODS for p in predictions)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated"] == 12 and metrics["pcc"]["total"]["n"] >= 10
    assert "the GOP engine aligns the reference sentence itself" in (out / "report.md").read_text()
