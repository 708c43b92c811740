"""`pronscore model tiny` and `pronscore score`: the model, outside the queue."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.common import TASK_FORMAT_HELP, OldTaskFormat, console, err_console, fail, settings
from cli.common import task_format as resolve_task_format
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


def _decode_shapes(files: int) -> dict[str, object]:
    """Batch sizes up to the first that holds every file, and the cache they need, so that a
    few files warm up a few decode shapes rather than all of a worker's."""
    configured = settings().batch_sizes
    sizes = tuple(s for s in configured if s < files) + tuple(s for s in configured if s >= files)[:1]
    return {"batch_sizes": sizes, "cache_tokens": min(settings().decode_cache_tokens, sizes[-1] * 4096)}


def chosen_engine(engine: str | None, model: str | None, adapter: str | None) -> str:
    """--engine, else phi4mm when a model or adapter is named on the command line, else the setting."""
    name = engine or ("phi4mm" if model or adapter else settings().engine_name)
    if name not in ("gop", "phi4mm"):
        fail(f"--engine must be gop or phi4mm, not {name!r}")
    return name


def score(
    audio: list[Path] = typer.Argument(..., help="Audio files (any format soundfile reads)."),
    text: str = typer.Option(..., "--text", help="The reference sentence the learner read."),
    engine_name: str | None = typer.Option(
        None, "--engine", help="gop or phi4mm (default: PRONSCORE_ENGINE; phi4mm with --model or --adapter)."
    ),
    calibration: Path | None = typer.Option(None, "--calibration", help="gop: calibration file (default: setting)."),
    model: str | None = typer.Option(None, "--model", help="Base model id or directory (default: setting)."),
    adapter: str | None = typer.Option(None, "--adapter", help="Fine-tuned adapter directory."),
    task_format: str | None = typer.Option(
        None, "--task-format", help=f"{TASK_FORMAT_HELP} (default: the adapter's own, else joint-v1)."
    ),
    old_task_format: str | None = OldTaskFormat,
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    adapter_mismatch_ok: bool = typer.Option(
        False, "--adapter-mismatch-ok", help="Serve an adapter trained for another format, base or revision."
    ),
) -> None:
    """Score audio files in-process, one assessment JSON per line on stdout."""
    from engines import ScoringItem, load_engine, score_in_chunks

    task_format = resolve_task_format(task_format, old_task_format)
    name = chosen_engine(engine_name, model, adapter)
    try:
        if name == "gop":
            engine = load_engine(settings(), "gop", calibration=calibration)
        else:
            engine = load_engine(
                settings(),
                "phi4mm",
                model=model,
                adapter=adapter,
                task_format=task_format,
                device=device,
                adapter_mismatch_ok=adapter_mismatch_ok or None,
                **_decode_shapes(len(audio)),
            )
    except (OSError, ValueError) as error:
        fail(f"cannot load the model: {error}")
    if engine.version.meaningless:
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
    assessments = score_in_chunks(engine, [item for _, item in readable], settings().chunk_audio_seconds)
    for (path, _), assessment in zip(readable, assessments, strict=True):
        failures += not assessment.scored
        body = {"recording_id": path.stem, "audio": str(path), **assessment.to_dict()}
        body["model"] = engine.version.to_dict()
        print(json.dumps(body))
    sys.stdout.flush()
    if failures:
        raise typer.Exit(1)
