"""`pronscore sample`: the bundled speechocean762 sample as a manifest or a ratings file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import console, fail
from producer.sample import DEFAULT_SAMPLE_DIR, SampleSubmission, sample_submissions, write_manifest, write_ratings

app = typer.Typer(help="Files made from the bundled speechocean762 sample, for demos and trials.")

SampleDir = typer.Option(DEFAULT_SAMPLE_DIR, "--sample-dir", help="The sample folder (with labels.jsonl).")


def _submissions(sample_dir: Path) -> list[SampleSubmission]:
    try:
        return sample_submissions(sample_dir)
    except FileNotFoundError as error:
        fail(str(error))


@app.command()
def manifest(out: Path = typer.Argument(..., help="CSV manifest to write."), sample_dir: Path = SampleDir) -> None:
    """Write a manifest of the sample: 24 learners in two classes, one recording a week."""
    submissions = _submissions(sample_dir)
    write_manifest(submissions, out)
    console.print(f"wrote {len(submissions)} rows to {out}", highlight=False)


@app.command()
def ratings(out: Path = typer.Argument(..., help="JSON Lines file to write."), sample_dir: Path = SampleDir) -> None:
    """Write the sample's expert labels with learners, classes and dates, for import-ratings."""
    submissions = _submissions(sample_dir)
    write_ratings(submissions, out)
    console.print(f"wrote {len(submissions)} ratings to {out}", highlight=False)
