"""Line charts as inline SVG geometry: numbers in, points and ticks out.

A report page must fetch nothing, so charts are drawn by the template as
``<polyline>`` elements from what :func:`line_chart` computes: every series
scaled into the plot area, and round-numbered ticks on both axes.  Only
numbers reach the SVG's attributes; titles and labels are text the template
escapes like any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 34  # margins around the plot, in pixels


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the CSS class that colours it
    points: Sequence[tuple[float, float]]


@dataclass
class Chart:
    title: str
    width: int
    height: int
    x_label: str
    y_label: str
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (name, css, "x,y x,y")
    x_ticks: list[tuple[float, str]] = field(default_factory=list)  # (pixel x, label)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (pixel y, label)

    @property
    def plot(self) -> tuple[int, int, int, int]:
        """The plot area: left, top, right, bottom pixels."""
        return LEFT, TOP, self.width - RIGHT, self.height - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.lines


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts ``span`` into about ``ticks``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.2g}"


def line_chart(
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    width: int = 760,
    height: int = 230,
) -> Chart:
    chart = Chart(title, width, height, x_label, y_label)
    shown = [s for s in series if s.points]
    if not shown:
        return chart
    xs = [x for s in shown for x, _ in s.points]
    ys = [y for s in shown for _, y in s.points]
    x_low, x_high = min(xs), max(xs)
    y_high = max(max(ys), 0.0)
    x_step, y_step = nice_step(x_high - x_low), nice_step(y_high or 1.0)
    x_high = max(x_high, x_low + x_step)
    y_top = y_step * math.ceil((y_high or 1.0) / y_step)
    left, top, right, bottom = chart.plot

    def px(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * (right - left)

    def py(y: float) -> float:
        return bottom - y / y_top * (bottom - top)

    for s in shown:
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        chart.lines.append((s.name, s.css, points))
    tick = math.ceil(x_low / x_step) * x_step
    while tick <= x_high + 1e-9:
        chart.x_ticks.append((round(px(tick), 1), _label(tick)))
        tick += x_step
    tick = 0.0
    while tick <= y_top + 1e-9:
        chart.y_ticks.append((round(py(tick), 1), _label(tick)))
        tick += y_step
    return chart
