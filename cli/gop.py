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
    frontend: str | None = typer.Option(
        None, "--frontend", help="auto, neural or pocketsphinx (default: PRONSCORE_GOP_FRONTEND, else auto)."
    ),
) -> None:
    """Fit the GOP calibration (phone, word and sentence ridge regressions on every candidate
    feature, their regularisation chosen by speaker-grouped cross-validation) on your own
    ratings, for the front end that runs; serve it with PRONSCORE_GOP_CALIBRATION=OUT."""
    from engines.gop.analysis import Analyser
    from engines.gop.engine import GopConfig, front_end
    from engines.gop.neural.encoder import FrontEndUnavailable
    from engines.gop.spec import GopSettings
    from training.data import DatasetError, load_dataset
    from training.gop import analyse, fingerprint, fit
    from training.gop_selection import select

    if split not in ("train", "test", "all"):
        fail(f"--split must be train, test or all, not {split!r}")
    choice = frontend or GopSettings().gop_frontend
    if choice not in ("auto", "neural", "pocketsphinx"):
        fail(f"--frontend must be auto, neural or pocketsphinx, not {choice!r}")
    try:
        neural = front_end(GopConfig(frontend=choice))  # type: ignore[arg-type]
    except FrontEndUnavailable as error:
        fail(f"the neural front end is not available: {error}")
    try:
        dataset = load_dataset(data, split)  # type: ignore[arg-type]
    except DatasetError as error:
        fail(str(error))
    columns = (TextColumn("aligning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task("align", total=len(dataset.examples))
        analyser = Analyser(front_end=neural)
        items = analyse(dataset.examples, analyser, settings().max_audio_seconds, lambda: progress.advance(task))
    digest = fingerprint(items)
    name = version or f"{datetime.now(UTC):%Y%m%d}-{digest[:8]}"
    about = {"data": str(data), "fingerprint": digest, "split": split,
             "selection": "every candidate feature, alpha by speaker-grouped cross-validation"}  # fmt: skip
    if neural:
        about["front_end"] = neural.name
    try:
        usable = [item for item in items if item.analysis is not None]
        calibration = fit(items, name, about, chosen=select(usable) if len(usable) >= 10 else None)
    except ValueError as error:
        fail(str(error))
    sha256 = calibration.save(out)
    aligned = calibration.trained_on["utterances"]
    console.print(
        f"calibration {name} ({calibration.front_end} front end) written to {out} (sha256 {sha256[:12]}; fitted "
        f"on {aligned} of {len(items)} utterances); serve it with PRONSCORE_GOP_CALIBRATION={out}",
        highlight=False,
    )
