"""`pronscore model tiny` and `pronscore score`: the model, outside the queue."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.common import console, err_console, fail, settings
from cli.engine_options import EngineRequest, engine_options
from producer.sample import DEFAULT_SAMPLE_DIR
from scoring.audio import AudioError, decode
from scoring.failures import FailureReason

app = typer.Typer(help="Model checkpoints.", no_args_is_help=True)

MEANINGLESS_NOTE = (
    "this is the tiny test checkpoint: its scores and transcripts mean nothing. "
    "Point PRONSCORE_MODEL at Phi-4-multimodal-instruct and PRONSCORE_ADAPTER at a trained adapter "
    "(see 'Train your adapter' in the README) for real assessments."
)


@app.command("tiny")
def tiny(
    out: Path = typer.Argument(..., help="Directory to write the checkpoint to."),
    teach_steps: int = typer.Option(200, min=0, help="Steps teaching the answer format (0: pure noise)."),
    labels: Path = typer.Option(DEFAULT_SAMPLE_DIR / "labels.jsonl", help="Labels whose answers it imitates."),
    one_utterance: bool = typer.Option(
        False, "--one-utterance", help="Teach from one built-in utterance instead of labels (a poorer imitation)."
    ),
) -> None:
    """Write a tiny random-weight Phi-4-multimodal checkpoint for tests and smoke runs.

    Teaching it the answer format takes minutes of CPU: 200 steps took 7 on a busy 2-core machine."""
    from training.tiny import write_tiny_checkpoint  # the one import of the tiny checkpoint outside tests

    if not one_utterance and not labels.is_file():
        fail(f"no labels at {labels}: pass --labels FILE (speechocean762 JSON Lines), or --one-utterance")
    columns = (TextColumn("teaching the answer format"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("teach", total=teach_steps)
        loss = write_tiny_checkpoint(
            out,
            None if one_utterance else labels,
            teach_steps=teach_steps,
            progress=lambda step, total: progress.update(task, completed=step, total=total),
        )
    taught = f", answer format taught to loss {loss:.2f}" if loss is not None else ""
    console.print(f"tiny checkpoint written to {out}{taught}", highlight=False)
    err_console.print(f"[yellow]note:[/] {MEANINGLESS_NOTE}", highlight=False)


@engine_options()
def score(
    audio: list[Path] = typer.Argument(..., help="Audio files (any format soundfile reads)."),
    text: str = typer.Option(..., "--text", help="The reference sentence the learner read."),
    *,
    engine: EngineRequest,
) -> None:
    """Score audio files in-process, one assessment JSON per line on stdout."""
    from engines import ScoringItem, score_in_chunks

    scorer = engine.load(count=len(audio))
    if scorer.version.meaningless:
        err_console.print(f"[yellow]note:[/] {MEANINGLESS_NOTE}", highlight=False)
    failures = 0
    readable: list[tuple[Path, ScoringItem]] = []
    for path in audio:
        try:
            samples = decode(path.read_bytes(), settings().max_audio_seconds)
        except (AudioError, OSError) as error:
            failures += 1
            reason = error.reason if isinstance(error, AudioError) else FailureReason.audio_unreadable
            detail = error.detail if isinstance(error, AudioError) else str(error)
            print(json.dumps({"recording_id": path.stem, "audio": str(path), "status": "failed",
                              "reason": reason, "detail": detail}))  # fmt: skip
            err_console.print(f"[red]{path}[/]: {reason}: {detail}", highlight=False)
            continue
        readable.append((path, ScoringItem(samples, text)))
    assessments = score_in_chunks(scorer, [item for _, item in readable], settings().chunk_audio_seconds)
    for (path, _), assessment in zip(readable, assessments, strict=True):
        failures += not assessment.scored
        body = {"recording_id": path.stem, "audio": str(path), **assessment.to_dict()}
        body["model"] = scorer.version.to_dict()
        print(json.dumps(body))
    sys.stdout.flush()
    if failures:
        raise typer.Exit(1)
