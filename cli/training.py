"""`pronscore train` and `pronscore evaluate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.common import console, err_console, fail, settings
from cli.engine_options import EngineRequest, engine_options
from scoring.formats import DEFAULT_FORMAT

if TYPE_CHECKING:
    from engines import Engine
    from training.data import Example


@engine_options("phi4mm", only=("--model", "--task-format", "--device"))
def train(
    data: Path = typer.Option(..., "--data", help="speechocean762 release folder or JSON Lines labels."),
    out: Path = typer.Option(..., "--out", help="Output folder (checkpoints and the adapter)."),
    variant: str = typer.Option("lora", "--variant", help="lora (speech LoRA only) or unfreeze (+ audio encoder)."),
    epochs: int = typer.Option(4, "--epochs", min=1),
    max_steps: int | None = typer.Option(
        None, "--max-steps", min=1, help="Stop after this many optimiser steps (the schedule still spans all epochs)."
    ),
    learning_rate: float = typer.Option(2e-5, "--lr"),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    gradient_accumulation: int = typer.Option(8, "--grad-accum", min=1),
    adam_beta1: float = typer.Option(0.9, "--adam-beta1", min=0, max=1),
    adam_beta2: float = typer.Option(0.95, "--adam-beta2", min=0, max=1),
    adam_epsilon: float = typer.Option(1e-7, "--adam-eps", min=0),
    weight_decay: float = typer.Option(0.01, "--weight-decay", min=0, help="AdamW's, on matrices only."),
    warmup_steps: int = typer.Option(50, "--warmup-steps", min=0, help="Optimiser steps of linear warm-up."),
    schedule: str = typer.Option("linear", "--schedule", help="After warm-up: linear or cosine decay, or constant."),
    max_grad_norm: float = typer.Option(1.0, "--max-grad-norm", min=0, help="Clip the gradient norm; 0: no clipping."),
    seed: int = typer.Option(0, "--seed"),
    save_every: int | None = typer.Option(None, "--save-every", min=1, help="Also checkpoint every N steps."),
    *,
    engine: EngineRequest,
) -> None:
    """Fine-tune the speech LoRA on the corpus's train split; resumes from OUT/checkpoint when
    the recipe and data are the same, and refuses otherwise."""
    from training.data import DatasetError
    from training.recipe import SCHEDULES
    from training.trainer import TrainConfig
    from training.trainer import train as run_training

    phi4 = engine.settings()
    if variant not in ("lora", "unfreeze"):
        fail(f"--variant must be lora or unfreeze, not {variant!r}")
    if schedule not in SCHEDULES:
        fail(f"--schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    config = TrainConfig(
        data=data,
        model=phi4.model,
        out=out,
        revision=phi4.model_revision,
        task_format=phi4.task_format or DEFAULT_FORMAT,
        variant=variant,  # type: ignore[arg-type]
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        gradient_accumulation=gradient_accumulation,
        adam_beta1=adam_beta1,
        adam_beta2=adam_beta2,
        adam_epsilon=adam_epsilon,
        weight_decay=weight_decay,
        warmup_steps=warmup_steps,
        schedule=schedule,  # type: ignore[arg-type]
        max_grad_norm=max_grad_norm or None,
        seed=seed,
        max_steps=max_steps,
        save_every=save_every,
        max_audio_seconds=settings().max_audio_seconds,
        device=phi4.device,
        dtype=phi4.dtype,
    )
    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task("train", total=None, loss="-")
        try:
            result = run_training(
                config,
                on_step=lambda step, total, loss: progress.update(
                    task, completed=step, total=total, loss=f"{loss:.3f}"
                ),
            )
        except (DatasetError, ValueError, OSError) as error:
            fail(str(error))
    loss = "no step taken" if result.loss is None else f"loss {result.loss:.3f}"
    if not result.trained:
        state = "already finished" if result.finished else f"already at step {result.steps} (--max-steps)"
        console.print(f"this run is {state}: the adapter at {result.adapter} is unchanged ({loss})", highlight=False)
        return
    if result.resumed_from is not None:
        err_console.print(f"resumed from step {result.resumed_from}", highlight=False)
    ending = "finished" if result.finished else "stopped early (rerun without --max-steps to go on)"
    console.print(f"adapter written to {result.adapter} after {result.steps} steps ({loss}); {ending}", highlight=False)
    console.print(f"score with it: PRONSCORE_ADAPTER={result.adapter} (its task format comes with it)", highlight=False)


@engine_options()
def evaluate(
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json, report.md and plots."),
    data: Path | None = typer.Option(None, "--data", help="speechocean762 release folder or JSON Lines labels."),
    split: str = typer.Option("test", "--split", help="train, test or all."),
    predictions: Path | None = typer.Option(None, "--predictions", help="Assessments (JSON Lines) of any system."),
    model_version: str | None = typer.Option(None, "--model-version", help="With --rater: compare in the database."),
    rater: str | None = typer.Option(None, "--rater", help="Human rater model version, e.g. human:expert."),
    *,
    engine: EngineRequest,
) -> None:
    """Measure a model (run here, from predictions, or in the database) against human scores."""
    from training.data import DatasetError, load_dataset
    from training.evaluate import evaluate as score
    from training.evaluate import read_predictions, references_from, task_format_of, write_report

    meaningless = False
    if model_version or rater:
        if not (model_version and rater):
            fail("--model-version and --rater go together")
        from db.session import session_scope
        from training.from_database import NothingToCompare, paired_from_database

        try:
            with session_scope(settings().database_url) as session:
                references, found = paired_from_database(session, model_version, rater)
        except NothingToCompare as error:
            fail(str(error))
        title = f"{model_version} vs {rater}"
    else:
        if data is None:
            fail("--data is needed unless you compare in the database (--model-version, --rater)")
        if split not in ("train", "test", "all"):
            fail(f"--split must be train, test or all, not {split!r}")
        try:
            examples = load_dataset(data, split).examples  # type: ignore[arg-type]
        except DatasetError as error:
            fail(str(error))
        references = references_from(examples)
        if predictions is not None:
            try:
                found = read_predictions(predictions)
            except (ValueError, OSError) as error:
                fail(str(error))
            title = predictions.stem
            meaningless = any(p.get("meaningless") for p in found.values())
        else:
            found, title, meaningless = _predict(examples, engine.load(), out)
    evaluation = score(references, found)
    write_report(evaluation, out, title, meaningless, task_format_of(found))
    metrics = evaluation.metrics
    console.print(json.dumps({k: metrics[k] for k in ("evaluated", "unparseable", "wer", "per")}), highlight=False)
    console.print(f"report written to {out / 'report.md'}", highlight=False)
    if meaningless:
        err_console.print("[yellow]note:[/] the tiny test checkpoint made these predictions; the numbers mean nothing")


def _predict(examples: list[Example], engine: Engine, out: Path) -> tuple[dict[str, dict[str, Any]], str, bool]:
    """Score the examples with the engine; predictions are also written to OUT/predictions.jsonl."""
    from engines import ScoringItem, score_in_chunks
    from scoring.audio import AudioError, decode

    found, items, keys = {}, [], []
    for example in examples:
        try:
            items.append(
                ScoringItem(decode(example.audio.read_bytes(), settings().max_audio_seconds), example.utterance.text)
            )
            keys.append(example.utterance.utt)
        except AudioError as error:
            found[example.utterance.utt] = {"status": "failed", "reason": error.reason}
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task("score", total=len(items))
        assessments = score_in_chunks(
            engine,
            items,
            settings().chunk_audio_seconds,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    for key, assessment in zip(keys, assessments, strict=True):
        found[key] = {"recording_id": key, **assessment.to_dict(), "model": engine.version.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in found.values()))
    return found, engine.version.name, engine.version.meaningless
