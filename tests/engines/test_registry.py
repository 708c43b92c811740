"""The engine registry: one table that the settings, the command line and the conformance cases
read, so that a third engine is its package and one entry. Shown with an engine defined here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from cli.engine_options import EngineRequest, engine_options
from engines import ScoringItem, load_engine
from engines.base import EngineOption, EngineSpec, EngineVersion
from engines.registry import DEFAULT_ENGINE, ENGINES, EngineChoice, configured_engine, settings_classes
from pronscore.settings import SETTINGS_CONFIG
from scoring.assessment import AssessmentResult
from scoring.failures import FailureReason, RecordingFailure
from scoring.lexicon import default_lexicon
from scoring.mdd import diff
from scoring.scores import SCORE_ASPECTS
from tests.engines.conformance import CASES, an_unreadable_file_fails_alone


class EchoSettings(BaseSettings):
    model_config = SETTINGS_CONFIG

    echo_score: int = Field(7, ge=0, le=10, description="The score the echo engine gives every aspect.")


class EchoVersion:
    def to_dict(self) -> dict[str, Any]:
        return {}

    def columns(self) -> dict[str, Any]:
        return {"task_format": None, "decoding": {}}


class EchoEngine:
    """Hears every recording as its reference read perfectly and gives it one score; fails
    silence. As small as an engine can be."""

    def __init__(self, settings: EchoSettings) -> None:
        self.score_given = settings.echo_score
        self.lexicon = default_lexicon()
        self.version = EngineVersion(
            f"echo-{self.score_given}", "echo", "echo", None, None, {"numpy": np.__version__}, EchoVersion()
        )

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        return [self._one(item) for item in items]

    def _one(self, item: ScoringItem) -> AssessmentResult:
        if not np.any(item.samples):
            return AssessmentResult(failure=RecordingFailure(FailureReason.audio_silent, "nothing was said"))
        entries = self.lexicon.entries_for(item.reference_text)
        phones = [phone for entry in entries for phone in (entry.variants[0] if entry.variants else ())]
        return AssessmentResult(
            scores=dict.fromkeys(SCORE_ASPECTS, self.score_given),
            word_transcript=" ".join(entry.text for entry in entries),
            phoneme_transcript=" ".join(phones),
            phone_diff=diff(entries, phones),
        )

    def close(self) -> None:
        pass


ECHO = EngineSpec(
    name="echo",
    summary="every aspect one score, for tests",
    settings=EchoSettings,
    load=EchoEngine,
    options=(EngineOption("--echo-score", "echo_score", picks_engine=True),),
)


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> EngineSpec:
    """The echo engine registered: the one entry a third engine adds to the table."""
    monkeypatch.setitem(ENGINES, ECHO.name, ECHO)
    return ECHO


@pytest.mark.parametrize("case", CASES)
def test_a_registered_engine_passes_the_conformance_cases(echo: EngineSpec, case: str) -> None:
    CASES[case](load_engine("echo"), "echo")


def test_pronscore_score_runs_it_by_name(echo: EngineSpec, tmp_path: Path) -> None:
    an_unreadable_file_fails_alone("echo", {}, tmp_path)


def test_the_engine_setting_accepts_it_and_names_them_all(echo: EngineSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRONSCORE_ENGINE", "echo")
    assert configured_engine() is echo
    monkeypatch.setenv("PRONSCORE_ENGINE", "ech")
    with pytest.raises(ValidationError, match="unknown engine 'ech'; choose gop or phi4mm or echo"):
        EngineChoice()


def test_its_settings_are_read_and_listed(echo: EngineSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRONSCORE_ECHO_SCORE", "3")
    assert load_engine("echo").score([ScoringItem(np.ones(1600, dtype=np.float32), "GO")])[0].scores == {
        aspect: 3 for aspect in SCORE_ASPECTS
    }
    assert load_engine("echo", echo_score=4).version.name == "echo-4", "an override beats the environment"
    assert EchoSettings in settings_classes(), "so the README's settings table lists them"


def test_its_options_join_the_shared_engine_options(echo: EngineSpec) -> None:
    app = typer.Typer()
    seen: list[EngineRequest] = []

    @app.command()
    @engine_options()
    def command(*, engine: EngineRequest) -> None:
        seen.append(engine)
        engine.settings()

    runner = CliRunner()
    help_text = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "--echo-score" in help_text and "The score the echo engine gives every aspect." in help_text
    assert "gop or phi4mm or echo" in help_text
    assert runner.invoke(app, ["--echo-score", "5"]).exit_code == 0
    assert seen[-1].spec is echo and seen[-1].overrides == {"echo_score": "5"}
    refused = runner.invoke(app, ["--echo-score", "11"])
    assert refused.exit_code == 2 and "--echo-score: Input should be less than or equal to 10" in refused.stderr


def test_without_a_choice_the_model_setting_picks_phi4mm_else_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRONSCORE_ENGINE", raising=False)
    monkeypatch.delenv("PRONSCORE_MODEL", raising=False)
    assert configured_engine().name == DEFAULT_ENGINE == "gop"
    monkeypatch.setenv("PRONSCORE_MODEL", "/models/phi4")
    assert configured_engine().name == "phi4mm"
    monkeypatch.setenv("PRONSCORE_ENGINE", "gop")
    assert configured_engine().name == "gop"


@pytest.mark.parametrize("spec", ENGINES.values(), ids=list(ENGINES))
def test_each_option_and_picking_setting_is_a_setting_of_its_engine(spec: EngineSpec) -> None:
    fields = spec.settings.model_fields
    assert all(option.setting in fields for option in spec.options)
    assert all(setting in fields for setting in spec.picked_by)


def test_no_two_engines_declare_the_same_option() -> None:
    flags = [flag for spec in ENGINES.values() for o in spec.options for flag in (o.flag, o.old_flag) if flag]
    assert len(flags) == len(set(flags))
