"""Charts as PNG bytes, drawn with matplotlib's Agg backend (no display, thread-safe use of
the object API: no pyplot state shared between requests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import matplotlib

# Headless: chosen before anything else of matplotlib is imported.
matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

WIDTH_INCHES = 8.0
HEIGHT_INCHES = 4.5
DPI = 100


@dataclass(frozen=True)
class AttendanceChartLabels:
    """Translated texts of the chart (the service never translates)."""

    title: str
    present: str
    said_yes: str
    axis_sessions: str
    axis_people: str


def attendance_chart(
    numbers: Sequence[int],
    present: Sequence[int],
    said_yes: Sequence[int],
    labels: AttendanceChartLabels,
) -> bytes:
    """A bar chart of attendance per session, the RSVP yes as markers; PNG bytes, 800×450."""
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    axes = figure.add_subplot()
    positions = list(range(len(numbers)))
    bars = axes.bar(positions, present, color="#2a9d8f", label=labels.present)
    # Counts inside the bars, so that the "said yes" markers just above never hide them.
    axes.bar_label(bars, label_type="center", color="white", fontweight="bold")
    axes.plot(
        positions,
        said_yes,
        linestyle="none",
        marker="_",
        markersize=22,
        markeredgewidth=3,
        color="#e76f51",
        label=labels.said_yes,
    )
    axes.set_xticks(positions, [str(number) for number in numbers])
    axes.set_xlabel(labels.axis_sessions)
    axes.set_ylabel(labels.axis_people)
    axes.set_title(labels.title)
    top = max([*present, *said_yes, 1])
    axes.set_ylim(0, top * 1.2 + 1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", frameon=False)
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
