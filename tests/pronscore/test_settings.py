import logging
import subprocess

import pytest
import yaml
from pydantic import ValidationError

from engines.phi4mm.spec import Phi4Settings
from engines.registry import settings_classes
from pronscore.settings import Settings
from tests.conftest import ROOT

EVERY_SETTING = [name for settings in (Settings, *settings_classes()) for name in settings.model_fields]


def test_every_compose_variable_is_a_real_setting() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    variables = set(compose["x-pronscore-env"])
    for service in compose["services"].values():
        variables |= {k for k in service.get("environment", {}) if k.startswith("PRONSCORE_")}
    known = {f"PRONSCORE_{name.upper()}" for name in EVERY_SETTING}
    assert variables, "compose sets no PRONSCORE_ variables"
    assert variables <= known, f"not settings: {sorted(variables - known)}"


def test_the_readme_settings_table_is_the_one_the_settings_class_gives() -> None:
    table = subprocess.run([ROOT / "scripts" / "settings-table"], capture_output=True, text=True, check=True).stdout
    assert len(table.splitlines()) == len(EVERY_SETTING) + 2
    assert table in (ROOT / "README.md").read_text(), "run scripts/settings-table and paste its table into README.md"


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PRONSCORE_S3_SECRET_ACCESS_KEY", "hunter2-very-secret")
    settings = Settings()
    logging.getLogger("test").warning("settings: %s", settings)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.model_dump_json()
    assert "hunter2" not in caplog.text
    assert settings.s3_secret_access_key.get_secret_value() == "hunter2-very-secret"


def test_invalid_values_are_rejected_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRONSCORE_TASK_FORMAT", "joint-v9")
    with pytest.raises(ValidationError, match="task_format"):
        Phi4Settings()


def test_no_two_settings_share_a_name() -> None:
    assert len(EVERY_SETTING) == len(set(EVERY_SETTING))


def test_the_old_name_of_the_chunk_size_is_still_read_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRONSCORE_GENERATION_BATCH_SECONDS", "96")
    with pytest.warns(FutureWarning, match="PRONSCORE_CHUNK_AUDIO_SECONDS"):
        settings = Settings()
    assert settings.chunk_audio_seconds == 96
    monkeypatch.setenv("PRONSCORE_CHUNK_AUDIO_SECONDS", "128")
    with pytest.warns(FutureWarning):
        assert Settings().chunk_audio_seconds == 128, "the new name wins when both are set"
