"""`pronscore train-gop`: fit the GOP engine's calibration on rated recordings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.common import console, err_console, fail, settings


def train_gop(
    data: Path = typer.Option(..., "--data", help="speechocean762-format labels: JSON Lines or the release folder."),
    out: Path = typer.Option(Path("gop-calibration.json"), "--out", help="Calibration file to write."),
    split: str = typer.Option("all", "--split", help="train, test or all."),
    version: str | None = typer.Option(None, "--version", help="Its version name (default: date and data hash)."),
) -> None:
    """Fit the GOP calibration (phone, word and sentence regressions) on your own ratings;
    serve it with PRONSCORE_GOP_CALIBRATION=OUT."""
    from engines.gop.analysis import Analyser
    from training.data import DatasetError, load_dataset
    from training.gop import analyse, fingerprint, fit

    if split not in ("train", "test", "all"):
        fail(f"--split must be train, test or all, not {split!r}")
    try:
        dataset = load_dataset(data, split)  # type: ignore[arg-type]
    except DatasetError as error:
        fail(str(error))
    columns = (TextColumn("aligning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task("align", total=len(dataset.examples))
        items = analyse(dataset.examples, Analyser(), settings().max_audio_seconds, lambda: progress.advance(task))
    digest = fingerprint(items)
    name = version or f"{datetime.now(UTC):%Y%m%d}-{digest[:8]}"
    try:
        calibration = fit(items, name, {"data": str(data), "fingerprint": digest, "split": split})
    except ValueError as error:
        fail(str(error))
    sha256 = calibration.save(out)
    aligned = calibration.trained_on["utterances"]
    console.print(
        f"calibration {name} written to {out} (sha256 {sha256[:12]}; fitted on {aligned} of {len(items)} "
        f"utterances); serve it with PRONSCORE_GOP_CALIBRATION={out}",
        highlight=False,
    )
