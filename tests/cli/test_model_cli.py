import io
import json
from pathlib import Path

import numpy as np
import soundfile
from typer.testing import CliRunner

from cli.app import app
from tests.conftest import sample_wav

runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_model_tiny_writes_the_real_checkpoint_layout(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    result = runner.invoke(app, ["model", "tiny", str(out), "--teach-steps", "2"])
    assert result.exit_code == 0, result.output
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        assert (out / name).is_file(), name
    assert (out / "speech-lora" / "adapter_config.json").is_file()
    assert json.loads((out / "config.json").read_text())["pronscore_tiny_checkpoint"] is True
    assert "mean nothing" in result.stderr


def test_score_sample_wavs_and_a_stereo_44k_copy(tiny_model: Path, tmp_path: Path) -> None:
    first, text = sample_wav(0)
    samples, rate = soundfile.read(first, dtype="float32")
    from scoring.audio import SAMPLE_RATE

    stretched = np.interp(np.arange(0, len(samples), rate / 44_100), np.arange(len(samples)), samples)
    stereo = tmp_path / "stereo.wav"
    soundfile.write(stereo, np.stack([stretched, stretched], axis=1), 44_100)
    assert rate == SAMPLE_RATE

    result = runner.invoke(app, ["score", str(first), str(stereo), "--text", text, "--model", str(tiny_model)])
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert [line["recording_id"] for line in lines] == [first.stem, "stereo"]
    for line in lines:
        assert line["status"] == "scored"
        assert line["meaningless"] is True and line["model"]["meaningless"] is True
        assert [w["text"] for w in line["words"]] == text.split()
    assert "mean nothing" in result.stderr


def test_score_reports_each_bad_file_and_still_scores_the_good(tiny_model: Path, tmp_path: Path) -> None:
    good, text = sample_wav(0)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 4)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(16_000, dtype=np.float32), 16_000)
    long = tmp_path / "long.flac"
    buffer = io.BytesIO()
    soundfile.write(buffer, np.full(16_000 * 45, 0.1, dtype=np.float32), 16_000, format="FLAC")
    long.write_bytes(buffer.getvalue())
    short = tmp_path / "short.wav"
    soundfile.write(short, np.full(160, 0.1, dtype=np.float32), 16_000)

    files = [empty, corrupt, silent, long, short, good]
    result = runner.invoke(app, ["score", *map(str, files), "--text", text, "--model", str(tiny_model)])
    assert result.exit_code == 1
    by_id = {line["recording_id"]: line for line in _lines(result.stdout)}
    assert {k: (v["status"], v.get("reason")) for k, v in by_id.items()} == {
        "empty": ("failed", "audio_empty"),
        "corrupt": ("failed", "audio_unreadable"),
        "silent": ("failed", "audio_silent"),
        "long": ("failed", "audio_too_long"),
        "short": ("failed", "audio_too_short"),
        good.stem: ("scored", None),
    }
    assert "audio_too_long: 45.0 s is over the 40 s limit" in result.stderr
    assert "audio_too_short: 10.0 ms is under the 25 ms minimum" in result.stderr
    assert "Traceback" not in result.output


def test_score_with_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    good, text = sample_wav(0)
    result = runner.invoke(app, ["score", str(good), "--text", text, "--model", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "cannot load the model" in result.stderr


def test_score_warms_up_only_the_batch_sizes_its_files_need() -> None:
    from engines.phi4mm.spec import PHI4MM, Phi4Settings

    assert PHI4MM.trim is not None
    settings = Phi4Settings()
    assert PHI4MM.trim(settings, 1) == {"batch_sizes": (1,), "decode_cache_tokens": 4096}
    assert PHI4MM.trim(settings, 3) == {"batch_sizes": (1, 2, 4), "decode_cache_tokens": 4 * 4096}
    assert PHI4MM.trim(settings, 10_000)["batch_sizes"][-1] == 256
