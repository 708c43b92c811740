import json
from pathlib import Path

import pytest

from engines import ScoringItem
from engines.gop import GopConfig, GopEngine
from engines.gop.calibration import Calibration, CalibrationError, load_calibration
from scoring.audio import decode
from tests.conftest import sample_wav
from training.gop import Analysed, fit


@pytest.fixture(scope="module")
def fitted(analysed: list) -> Calibration:
    return fit([Analysed(u, a) for u, a in analysed], "test-fit", {"data": "sample subset"})


def test_a_calibration_round_trips_through_its_file(fitted: Calibration, analysed: list, tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    sha256 = fitted.save(path)
    loaded = load_calibration(path)
    assert loaded.sha256 == sha256
    assert loaded.models == fitted.models and loaded.phone_centres == fitted.phone_centres
    assert (loaded.min_gop_mean, loaded.substitution_gop) == (fitted.min_gop_mean, fitted.substitution_gop)
    rows = [{"gop": -10.0, "competitor_wins": 1.0}, {"gop": 0.0, "competitor_wins": 0.0}]
    assert list(loaded.models["phone"].predict_many(rows)) == list(fitted.models["phone"].predict_many(rows))


def test_its_version_and_sha256_are_in_every_assessments_model_version(fitted: Calibration, tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    sha256 = fitted.save(path)
    engine = GopEngine(GopConfig(path))
    assert engine.version.artifact_sha256 == sha256
    assert "test-fit" in engine.version.name and sha256[:12] in engine.version.name
    wav, text = sample_wav(1)
    [result] = engine.score([ScoringItem(decode(wav.read_bytes(), 40.0), text)])
    assert result.scored


def test_another_calibration_is_another_model_version(fitted: Calibration, tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    fitted.save(path)
    assert GopEngine(GopConfig(path)).version.name != GopEngine(GopConfig()).version.name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "unreadable calibration"),
        (json.dumps({"format": 99}), "not a GOP calibration file"),
        (
            json.dumps(
                {
                    "format": 1,
                    "models": {},
                    "version": "x",
                    "phone_centres": {},
                    "min_gop_mean": 0,
                    "substitution_gop": 0,
                }
            ),
            "no model for phone",
        ),
    ],
)
def test_a_bad_calibration_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CalibrationError, match=message):
        load_calibration(path)
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(tmp_path / "missing.json")
