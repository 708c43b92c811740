"""Charts for reports (matplotlib without a display): PNG files for the terminal's reports, inline
SVG for the teacher's site."""

from __future__ import annotations

import io
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


@dataclass(frozen=True)
class Series:
    """One model version's weekly figures for a chart: per aspect, each week's mean and how
    many recordings it averages. `dashed` draws it in the compared style."""

    key: str
    points: dict[str, dict[Any, tuple[float, int]]]
    dashed: bool = False


def _svg(figure: Figure, salt: str) -> str:
    """The figure as an inline `<svg>` element: text kept as text (the page's font), no metadata,
    element ids made unique by `salt` so that many charts can share one page."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _week_axis(axes: Axes, weeks: Sequence[Any]) -> None:
    axes.set_xticks(list(range(len(weeks))), [f"{w:%d %b}" for w in weeks], rotation=90 if len(weeks) > 8 else 0)
    axes.set_xlim(-0.5, len(weeks) - 0.5)


def score_chart_svg(uid: str, aspect: str, weeks: Sequence[Any], series: Sequence[Series]) -> str:
    """One aspect's chart over `weeks` (the x axis, shared by every learner of a class): each
    series' weekly means, its points labelled with n, the compared series dashed (the page names
    both). Each line's SVG group is `{uid}-{aspect}-{series.key}`, one marker per week with
    recordings, so a test can count them."""
    position = {week: i for i, week in enumerate(weeks)}
    figure, axes = plt.subplots(figsize=(4.6, 2.9))
    for line in series:
        found = sorted((position[w], mean, n) for w, (mean, n) in line.points.get(aspect, {}).items())
        (drawn,) = axes.plot(
            [x for x, _, _ in found],
            [y for _, y, _ in found],
            "--" if line.dashed else "-",
            marker="s" if line.dashed else "o",
            markersize=4,
            color="#7b3294" if line.dashed else "#1b6ca8",
        )
        drawn.set_gid(f"{uid}-{aspect}-{line.key}")
        for x, y, n in found:
            axes.annotate(
                f"n={n}",
                (x, y),
                textcoords="offset points",
                xytext=(0, -11 if line.dashed else 5),
                ha="center",
                fontsize=7,
                color=drawn.get_color(),
            )
    axes.set_title(aspect, fontsize=11)
    axes.set_ylim(0, 10.5)
    axes.set_ylabel("mean score (0-10)", fontsize=8)
    axes.grid(alpha=0.3)
    _week_axis(axes, weeks)
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    return _svg(figure, f"{uid}-{aspect}")


def sparkline_svg(uid: str, weeks: Sequence[Any], totals: dict[Any, float]) -> str:
    """A small trend line of weekly totals on a fixed 0-10 scale; its SVG group `{uid}` holds one
    marker per week with recordings."""
    position = {week: i for i, week in enumerate(weeks)}
    found = sorted((position[w], value) for w, value in totals.items())
    figure, axes = plt.subplots(figsize=(1.8, 0.5))
    (line,) = axes.plot(
        [x for x, _ in found], [y for _, y in found], "-o", markersize=3.5, linewidth=1.8, color="#1b6ca8"
    )
    line.set_gid(uid)
    axes.set_xlim(-0.5, max(len(weeks), 1) - 0.5)
    axes.set_ylim(0, 10)
    axes.axhline(5, color="#bbbbbb", linewidth=0.6)
    axes.set_axis_off()
    figure.subplots_adjust(0.02, 0.05, 0.98, 0.95)
    return _svg(figure, uid)
