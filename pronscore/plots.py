"""Charts for reports (matplotlib, written to PNG without a display)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from scoring.scores import SCORE_ASPECTS


def weekly_means(rows: Sequence[dict[str, Any]]) -> dict[Any, dict[str, float]]:
    """Recording-weighted mean of each aspect per week over the selected learners."""
    sums: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[Any, int] = defaultdict(int)
    for row in rows:
        if not row["recordings"]:
            continue
        counts[row["week"]] += row["recordings"]
        for aspect in SCORE_ASPECTS:
            sums[row["week"]][aspect] += float(row[aspect]) * row["recordings"]
    return {week: {a: sums[week][a] / counts[week] for a in SCORE_ASPECTS} for week in sorted(counts)}


def plot_progress(rows: Sequence[dict[str, Any]], path: Path, subject: str) -> None:
    means = weekly_means(rows)
    if not means:
        raise ValueError("no scored recordings match the filters, so there is nothing to plot")
    weeks = list(means)
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for aspect in SCORE_ASPECTS:
        axes.plot(weeks, [means[w][aspect] for w in weeks], marker="o", label=aspect)
    axes.set(title=f"Weekly pronunciation scores: {subject}", xlabel="week", ylabel="mean score (0-10)")
    axes.set_ylim(0, 10)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def scatter(pairs: Sequence[tuple[float, float]], path: Path, aspect: str, title: str) -> None:
    """Predicted against human scores; repeated points are drawn larger."""
    counts: dict[tuple[float, float], int] = defaultdict(int)
    for pair in pairs:
        counts[pair] += 1
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    if counts:
        points = list(counts)
        axes.scatter([h for _, h in points], [p for p, _ in points], s=[20 * counts[p] for p in points], alpha=0.6)
    axes.plot([0, 10], [0, 10], color="grey", linewidth=0.8, linestyle="--")
    axes.set(xlim=(-0.5, 10.5), ylim=(-0.5, 10.5), xlabel=f"human {aspect}", ylabel=f"predicted {aspect}")
    axes.set_title(f"{aspect}: {title}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
