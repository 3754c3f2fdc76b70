"""A merchant's progress chart (`/progres`): their three numbers month by month, as a PNG.

One small panel per number (followers are hundreds, posts a handful: one scale would flatten
the small ones). A month without an answer is a gap in the line, never a zero. What was drawn
is written into the PNG itself (a `tEXt` chunk, `Relais-Series`, JSON), so that a test or an
export can read back the very figures of the image.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

WIDTH_INCHES = 8.0
DPI = 100
PANEL_HEIGHT = 2.2
SERIES_KEY = "Relais-Series"
COLOURS = ("#2a9d8f", "#e76f51", "#264653")


@dataclass(frozen=True)
class ProgressChartLabels:
    """Translated texts of the chart (the service never translates)."""

    title: str
    # metric -> its panel's title
    metrics: Mapping[str, str]
    # period ("2026-11") -> its tick label ("nov. 26")
    months: Mapping[str, str]


def progress_chart(
    periods: Sequence[str],
    series: Mapping[str, Sequence[int | None]],
    labels: ProgressChartLabels,
) -> bytes:
    """The PNG of `series` (metric -> one value or None per period), one panel per metric."""
    metrics = [metric for metric in labels.metrics if metric in series]
    figure = Figure(figsize=(WIDTH_INCHES, PANEL_HEIGHT * max(1, len(metrics)) + 0.6), dpi=DPI)
    axes_list = figure.subplots(max(1, len(metrics)), 1, sharex=True, squeeze=False)[:, 0]
    positions = list(range(len(periods)))
    for index, (axes, metric) in enumerate(zip(axes_list, metrics, strict=False)):
        values = [math.nan if value is None else value for value in series[metric]]
        colour = COLOURS[index % len(COLOURS)]
        # NaN breaks the line: a month without an answer is a gap.
        axes.plot(positions, values, color=colour, linewidth=2.5, marker="o", markersize=7)
        for position, value in zip(positions, series[metric], strict=False):
            if value is not None:
                axes.annotate(
                    str(value),
                    (position, value),
                    textcoords="offset points",
                    xytext=(0, 8),
                    ha="center",
                    fontsize=9,
                )
        axes.set_title(labels.metrics[metric], loc="left", fontsize=11)
        known = [value for value in series[metric] if value is not None]
        top = max([*known, 1])
        axes.set_ylim(0, top * 1.3 + 1)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="y", alpha=0.3)
    last = axes_list[-1]
    last.set_xticks(positions, [labels.months.get(period, period) for period in periods])
    if positions:
        last.set_xlim(-0.5, len(positions) - 0.5)
    figure.suptitle(labels.title, fontsize=13)
    figure.tight_layout()
    drawn = {"periods": list(periods), **{metric: list(series[metric]) for metric in metrics}}
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={SERIES_KEY: json.dumps(drawn)})
    return buffer.getvalue()
