import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cli.app import app
from db.models import Recording, RecordingStatus
from db.reports import REPORTS
from db.runs import get_or_create_run
from db.session import session_scope
from producer.sample import sample_submissions, write_ratings
from pronscore.plots import progress_figure
from tests.conftest import SAMPLE_DIR
from tests.factories import add_assessment, scored

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


MODEL = "phi4mm-test/joint-v1"


def _load_sample_and_a_model(tmp_path: Path, clean_db: str) -> None:
    """The first 24 sample recordings rated by the experts, and by a model that gives 1s and hears
    each as BEAR said "B AE"."""
    _load_sample(tmp_path)
    with session_scope(clean_db) as session:
        for recording_id in session.execute(select(Recording.id)).scalars():
            add_assessment(session, recording_id, MODEL, scored((1, 1, 1, 1), [("BEAR", "B EH R")], "B AE"))


def _json(*args: str) -> list[dict]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_default_report_shows_the_newest_model_only(clean_db: str, tmp_path: Path) -> None:
    _load_sample_and_a_model(tmp_path, clean_db)
    rows = _json("report", "learner-progress")
    assert {row["model"] for row in rows} == {MODEL}
    assert sum(row["recordings"] for row in rows) == 24
    assert {row["total"] for row in rows if row["recordings"]} == {1.0}
    expert = _json("report", "learner-progress", "--model", "human:expert")
    assert {row["model"] for row in expert} == {"human:expert"}
    assert {row["model"] for row in _json("report", "class-weak-phones")} <= {MODEL}


def test_compare_puts_the_experts_beside_the_model(clean_db: str, tmp_path: Path) -> None:
    _load_sample_and_a_model(tmp_path, clean_db)
    expert = {(r["learner_id"], r["week"]): r for r in _json("report", "learner-progress", "--model", "human:expert")}
    rows = _json("report", "learner-progress", "--compare", "human:expert")
    assert len(rows) == len(expert)
    for row in rows:
        assert row["model"] == MODEL
        theirs = expert[(row["learner_id"], row["week"])]
        assert (row["expert_total"], row["expert_recordings"]) == (theirs["total"], theirs["recordings"])
        assert row["total"] == (1.0 if row["recordings"] else None)
    table = runner.invoke(app, ["report", "learner-progress", "--compare", "human:expert"], env={"COLUMNS": "120"})
    assert "compared with human:expert" in table.stdout
    assert "expert" in "\n".join(table.stdout.splitlines()[:5])


def _table_lines(args: list[str]) -> list[str]:
    result = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    "args",
    [
        ["report", "learner-progress"],
        ["report", "learner-progress", "--compare", "human:expert"],
        ["report", "class-weak-phones"],
        ["report", "run-summary"],
    ],
)
def test_a_table_row_is_one_line_at_120_columns(clean_db: str, tmp_path: Path, args: list[str]) -> None:
    _load_sample_and_a_model(tmp_path, clean_db)
    with session_scope(clean_db) as session:
        session.execute(
            update(Recording).values(
                run_id=get_or_create_run(session, "2026-11-26-night"),
                status=RecordingStatus.failed,
                failure_reason="audio_unreadable",
            )
        )
    rows = _json(*args)
    lines = _table_lines(args)
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    # The title, the header (one or two lines), the rule, and then one line for each row.
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    body = [line for line in lines[rule + 1 :] if line.strip()]
    assert len(body) == len(rows)
    assert not any("…" in line for line in body)


def test_run_summary_times_are_to_the_minute(clean_db: str) -> None:
    with session_scope(clean_db) as session:
        get_or_create_run(session, "night")
    (line,) = [line for line in _table_lines(["report", "run-summary"]) if "night" in line]
    assert re.search(r"night\s+\d{4}-\d\d-\d\d \d\d:\d\d\s", line), line
    assert not re.search(r":\d\d\.\d", line)


def test_wide_shows_every_column(clean_db: str, tmp_path: Path) -> None:
    _load_sample_and_a_model(tmp_path, clean_db)
    narrow = _table_lines(["report", "learner-progress"])
    wide = runner.invoke(app, ["report", "learner-progress", "--wide"], env={"COLUMNS": "300"}).stdout
    assert "fluency change" in wide and "fluency change" not in "\n".join(narrow)


def test_each_plotted_week_says_how_many_recordings_it_averages(clean_db: str, tmp_path: Path) -> None:
    _load_sample_and_a_model(tmp_path, clean_db)
    chart = tmp_path / "class-a.png"
    result = runner.invoke(
        app, ["report", "learner-progress", "--class", "class-a", "--compare", "human:expert", "--plot", str(chart)]
    )
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _json("report", "learner-progress", "--class", "class-a")
    weekly: dict[str, int] = {}
    for row in rows:
        weekly[row["week"]] = weekly.get(row["week"], 0) + row["recordings"]
    figure = progress_figure(rows, "class-a", MODEL)
    labels = sorted(text.get_text() for text in figure.axes[0].texts)
    assert labels == sorted(f"n={n}" for n in weekly.values() if n)


def test_each_report_is_a_command_made_from_its_spec(clean_db: str, tmp_path: Path) -> None:
    _load_sample_and_a_model(tmp_path, clean_db)
    listed = runner.invoke(app, ["report", "-h"], env={"COLUMNS": "200"})
    assert all(name in listed.stdout for name in REPORTS)
    models = _json("report", "models")
    assert [(row["model"], row["engine"]) for row in models] == [(MODEL, "phi4mm"), ("human:expert", "human")]
    recordings = _json("report", "recordings", "--class", "class-a")
    assert recordings and {row["class_id"] for row in recordings} == {"class-a"}
    first = recordings[0]["recording_id"]
    words = _json("report", "recording-feedback", "--recording", first)
    assert {row["model"] for row in words} == {MODEL}, "one model at a time, the newest by default"
    assert [row["word"] for row in words] == ["BEAR"]


def test_a_flag_a_report_does_not_take_is_named(clean_db: str) -> None:
    top = runner.invoke(app, ["report", "recordings", "--top", "3"])
    assert top.exit_code == 2 and "report recordings does not take --top" in top.stderr
    run = runner.invoke(app, ["report", "learner-progress", "--run", "night"])
    assert run.exit_code == 2 and "report learner-progress does not take --run" in run.stderr
    compare = runner.invoke(app, ["report", "run-summary", "--compare", "human:expert"])
    assert compare.exit_code == 2 and "--compare works with learner-progress and class-weak-phones" in compare.stderr
