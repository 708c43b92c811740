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
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


class WeeklyCharts:
    """The charts of one class's pages over its weeks: a chart per score and a trend line.

    Every learner of a class shares the x axis (the class's weeks) and the 0-10 y axis, so each
    kind of chart is one figure set up once and redrawn with each learner's lines: axes, ticks
    and margins are most of what a chart costs (fixed margins instead of `tight_layout`, which
    measures every label again, make a class's charts three times faster). Use it as a context
    manager, which closes the figures.
    """

    def __init__(self, weeks: Sequence[Any], aspects: Sequence[str]) -> None:
        self.position = {week: i for i, week in enumerate(weeks)}
        self.scores = {aspect: self._score_figure(weeks, aspect) for aspect in aspects}
        self.trend = plt.subplots(figsize=(1.8, 0.5))
        figure, axes = self.trend
        axes.set_xlim(-0.5, max(len(weeks), 1) - 0.5)
        axes.set_ylim(0, 10)
        axes.axhline(5, color="#bbbbbb", linewidth=0.6)
        axes.set_axis_off()
        figure.subplots_adjust(0.02, 0.05, 0.98, 0.95)

    @staticmethod
    def _score_figure(weeks: Sequence[Any], aspect: str) -> tuple[Figure, Axes]:
        figure, axes = plt.subplots(figsize=(4.6, 2.9))
        rotated = len(weeks) > 8
        axes.set_xticks(list(range(len(weeks))), [f"{w:%d %b}" for w in weeks], rotation=90 if rotated else 0)
        axes.set_xlim(-0.5, max(len(weeks), 1) - 0.5)
        axes.set_ylim(0, 10.5)
        # A title at a fixed height and no axis label (the page says what the scale is): placing
        # either measures every tick label again on each draw.
        axes.set_title(aspect, fontsize=11, y=1.0)
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize=8)
        figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.25 if rotated else 0.12)
        return figure, axes

    def __enter__(self) -> WeeklyCharts:
        return self

    def __exit__(self, *exc: object) -> None:
        for figure, _ in (*self.scores.values(), self.trend):
            plt.close(figure)

    def score_svg(self, uid: str, aspect: str, series: Sequence[Series]) -> str:
        """One score's chart: each series' weekly means, its points labelled with n, the compared
        series dashed (the page names both). Each line's SVG group is `{uid}-{aspect}-{series.key}`,
        with one marker per week with recordings, so a test can count them."""
        figure, axes = self.scores[aspect]
        for artist in (*axes.lines, *axes.texts):
            artist.remove()
        for line in series:
            found = sorted((self.position[w], mean, n) for w, (mean, n) in line.points.get(aspect, {}).items())
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
        return _svg(figure, f"{uid}-{aspect}")

    def trend_svg(self, uid: str, totals: dict[Any, float]) -> str:
        """A small trend line of weekly totals on the fixed 0-10 scale (5 marked); its SVG group
        `{uid}` holds one marker per week with recordings."""
        figure, axes = self.trend
        for line in axes.lines[1:]:
            line.remove()
        found = sorted((self.position[w], value) for w, value in totals.items())
        (line,) = axes.plot(
            [x for x, _ in found], [y for _, y in found], "-o", markersize=3.5, linewidth=1.8, color="#1b6ca8"
        )
        line.set_gid(uid)
        return _svg(figure, uid)
