import json
from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.app import app
from producer.ratings import import_ratings
from producer.sample import sample_submissions, write_ratings
from tests.conftest import SAMPLE_DIR

runner = CliRunner()


def test_model_version_against_a_rater_in_the_database(session: Session, tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.jsonl"
    write_ratings(sample_submissions(SAMPLE_DIR)[:30], ratings)
    import_ratings(session, ratings, "expert")
    import_ratings(session, ratings, "teacher")  # the same labels: a perfect agreement
    session.commit()

    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["evaluate", "--model-version", "human:teacher", "--rater", "human:expert", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated"] == 30
    assert round(metrics["pcc"]["total"]["pcc"], 6) == 1.0
    assert (metrics["per"], metrics["mdd"]["f1"]) == (0.0, 1.0)

    missing = runner.invoke(
        app, ["evaluate", "--model-version", "nobody", "--rater", "human:expert", "--out", str(out)]
    )
    assert missing.exit_code == 2 and "no recording is assessed by both" in missing.stderr
