import json
from pathlib import Path

from typer.testing import CliRunner

from cli.app import app
from producer.sample import sample_submissions, write_ratings
from tests.conftest import SAMPLE_DIR

runner = CliRunner()


def _load_sample(tmp_path: Path) -> None:
    path = tmp_path / "ratings.jsonl"
    write_ratings(sample_submissions(SAMPLE_DIR)[:24], path)
    result = runner.invoke(app, ["import-ratings", str(path), "--rater", "expert"])
    assert result.exit_code == 0, result.output
    assert "imported 24 ratings as human:expert" in result.output


def test_report_json_and_csv(clean_db: str, tmp_path: Path) -> None:
    _load_sample(tmp_path)
    as_json = runner.invoke(app, ["report", "learner-progress", "--format", "json", "--model", "human:expert"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert sum(row["recordings"] for row in rows) == 24
    as_csv = runner.invoke(app, ["report", "class-weak-phones", "--format", "csv", "--top", "2"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout.splitlines()[0] == "rank,class_id,model,expected,actual,op,occurrences,expected_count,rate"


def test_report_plot_writes_png(clean_db: str, tmp_path: Path) -> None:
    _load_sample(tmp_path)
    chart = tmp_path / "progress.png"
    learner = sample_submissions(SAMPLE_DIR)[0].learner_id
    result = runner.invoke(app, ["report", "learner-progress", "--learner", learner, "--plot", str(chart)])
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_report_and_bad_since_are_clear_errors(clean_db: str) -> None:
    unknown = runner.invoke(app, ["report", "weekly"])
    assert unknown.exit_code == 2
    assert "unknown report 'weekly'" in unknown.stderr
    bad_date = runner.invoke(app, ["report", "learner-progress", "--since", "last tuesday"])
    assert bad_date.exit_code == 2
    assert "--since must be a date like 2026-09-01, not 'last tuesday'" in bad_date.stderr


def test_plot_with_no_rows_is_a_clear_error(clean_db: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", "learner-progress", "--learner", "nobody", "--plot", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 2
    assert "nothing to plot" in result.stderr
