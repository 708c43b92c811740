"""The bundled speechocean762 sample presented as one school's submissions.

Its 24 speakers become learners in two classes, and each learner's utterances are spread
one a week from the start date, so progress reports have weeks to show.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Beside the package in a source checkout, whatever the working directory.
DEFAULT_SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "speechocean762-sample"
TERM_START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
MANIFEST_COLUMNS = ("recording_id", "learner_id", "class_id", "audio", "text", "submitted_at")


@dataclass(frozen=True)
class SampleSubmission:
    label: dict
    learner_id: str
    class_id: str
    submitted_at: datetime
    audio: Path

    def manifest_row(self) -> dict[str, str]:
        return {
            "recording_id": self.label["utt"],
            "learner_id": self.learner_id,
            "class_id": self.class_id,
            "audio": str(self.audio),
            "text": self.label["text"],
            "submitted_at": self.submitted_at.isoformat(),
        }


def sample_submissions(sample_dir: Path = DEFAULT_SAMPLE_DIR) -> list[SampleSubmission]:
    labels_path = sample_dir / "labels.jsonl"
    if not labels_path.is_file():
        raise FileNotFoundError(f"no labels.jsonl in {sample_dir}; pass the sample folder")
    labels = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines() if line]
    speakers = sorted({label["speaker"] for label in labels})
    class_of = {s: ("class-a" if i < len(speakers) / 2 else "class-b") for i, s in enumerate(speakers)}
    submissions = []
    for speaker_index, speaker in enumerate(speakers):
        own = sorted((label for label in labels if label["speaker"] == speaker), key=lambda x: x["utt"])
        for week, label in enumerate(own):
            submitted = TERM_START + timedelta(weeks=week, days=speaker_index % 5, minutes=speaker_index)
            submissions.append(
                SampleSubmission(
                    label=label,
                    learner_id=f"learner-{speaker}",
                    class_id=class_of[speaker],
                    submitted_at=submitted,
                    audio=(sample_dir / label["audio"]).resolve(),
                )
            )
    return submissions


def write_manifest(submissions: list[SampleSubmission], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(s.manifest_row() for s in submissions)


def write_ratings(submissions: list[SampleSubmission], path: Path) -> None:
    """The corpus labels with each recording's learner, class and date, for `import-ratings`."""
    with path.open("w", encoding="utf-8") as handle:
        for s in submissions:
            row = s.manifest_row()
            record = {
                **s.label,
                **{k: row[k] for k in ("recording_id", "learner_id", "class_id", "submitted_at")},
            }
            record["audio"] = row["audio"]
            handle.write(json.dumps(record) + "\n")
