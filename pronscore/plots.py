"""Charts for reports (matplotlib, written to PNG without a display)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from scoring.scores import SCORE_ASPECTS


@dataclass(frozen=True)
class WeeklyMean:
    """The recording-weighted mean of each aspect in one week, and how many recordings it averages."""

    scores: dict[str, float]
    recordings: int


def weekly_means(rows: Sequence[dict[str, Any]]) -> dict[Any, WeeklyMean]:
    """Recording-weighted mean of each aspect per week over the selected learners."""
    sums: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[Any, int] = defaultdict(int)
    for row in rows:
        if not row["recordings"]:
            continue
        counts[row["week"]] += row["recordings"]
        for aspect in SCORE_ASPECTS:
            sums[row["week"]][aspect] += float(row[aspect]) * row["recordings"]
    return {
        week: WeeklyMean({a: sums[week][a] / counts[week] for a in SCORE_ASPECTS}, counts[week])
        for week in sorted(counts)
    }


def _draw(axes: Axes, means: dict[Any, WeeklyMean], label: str, style: str, above: bool) -> None:
    """The four aspects of one model version; the total's points carry how many recordings
    each week's mean averages (n)."""
    weeks = list(means)
    for colour, aspect in enumerate(SCORE_ASPECTS):
        values = [means[w].scores[aspect] for w in weeks]
        axes.plot(weeks, values, style, marker="o", color=f"C{colour}", label=f"{aspect} ({label})")
    for week in weeks:
        axes.annotate(
            f"n={means[week].recordings}",
            (week, means[week].scores["total"]),
            textcoords="offset points",
            xytext=(0, 7 if above else -12),
            ha="center",
            fontsize=7,
            color="C3",
        )


def progress_figure(
    rows: Sequence[dict[str, Any]],
    subject: str,
    model: str,
    compared: tuple[Sequence[dict[str, Any]], str] | None = None,
) -> Figure:
    """Weekly scores of one model version (solid), and of another beside it (dashed)."""
    means = weekly_means(rows)
    other = weekly_means(compared[0]) if compared else {}
    if not means and not other:
        raise ValueError("no scored recordings match the filters, so there is nothing to plot")
    figure, axes = plt.subplots(figsize=(9, 5))
    _draw(axes, means, model, "-", above=True)
    if compared:
        _draw(axes, other, compared[1], "--", above=False)
    axes.set(title=f"Weekly pronunciation scores: {subject}", xlabel="week", ylabel="mean score (0-10)")
    axes.set_ylim(0, 10.5)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncols=2 if compared else 1)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def plot_progress(
    rows: Sequence[dict[str, Any]],
    path: Path,
    subject: str,
    model: str,
    compared: tuple[Sequence[dict[str, Any]], str] | None = None,
) -> None:
    """The progress chart (see `progress_figure`) written to `path` as PNG."""
    figure = progress_figure(rows, subject, model, compared)
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
