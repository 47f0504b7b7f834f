"""Geometry of the memo's burn-down chart: open paths per care type by month, as SVG numbers.

The template draws what this computes; it does no arithmetic of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from templates.dutch import MONTHS

# Okabe-Ito colours (safe for colour-blind readers), with dash patterns for grey print.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "", "6 3")


@dataclass(frozen=True)
class Series:
    """Open paths of one care type at a run of dates (month ends)."""

    name: str
    points: tuple[tuple[date, int], ...]


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    dash: str
    points: str  # "x,y x,y ..." for <polyline points=...>
    end_x: float
    end_y: float
    end_value: int
    label_y: float  # end label position, moved apart so labels never overlap


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    deadline_x: float | None
    deadline_label: str
    title: str


def _nice_step(maximum: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if maximum / step <= 6:
            return step
    return max(1, maximum // 5)


def _spread(ys: Sequence[float], gap: float) -> list[float]:
    """Move label positions apart by at least `gap`, keeping their order."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = list(ys)
    for before, after in pairwise(order):
        placed[after] = max(placed[after], placed[before] + gap)
    return [round(v, 1) for v in placed]


def burn_down(series: Sequence[Series], start: date, end: date, deadline: date,
              title: str, width: int = 720, height: int = 300) -> Chart:
    """Lay out one line per series between `start` and `end`, with the deadline marked."""
    left, top, right, bottom = 48.0, 20.0, width - 190.0, height - 36.0
    span = max((end - start).days, 1)
    top_value = max([v for s in series for _, v in s.points] + [1])
    step = _nice_step(top_value)
    y_max = -(-top_value // step) * step

    def x(day: date) -> float:
        return round(left + (right - left) * (day - start).days / span, 1)

    def y(value: int) -> float:
        return round(bottom - (bottom - top) * value / y_max, 1)

    drawn = [(i, s) for i, s in enumerate(series) if s.points]
    label_ys = _spread([y(s.points[-1][1]) for _, s in drawn], gap=14.0)
    lines = []
    for (i, s), label_y in zip(drawn, label_ys, strict=True):
        pts = " ".join(f"{x(d)},{y(v)}" for d, v in s.points)
        last_day, last_value = s.points[-1]
        lines.append(Line(s.name, COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)], pts,
                          x(last_day), y(last_value), last_value, label_y))
    months = []
    day = date(start.year, start.month, 1)
    while day <= end:
        if day >= start:
            months.append(Tick(x(day), MONTHS[day.month - 1][:3]))
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    y_ticks = tuple(Tick(y(v), str(v)) for v in range(0, y_max + 1, step))
    deadline_x = x(deadline) if start <= deadline <= end else None
    return Chart(width, height, left, top, right, bottom, tuple(lines), tuple(months), y_ticks,
                 deadline_x, f"deadline {deadline.day} {MONTHS[deadline.month - 1][:3]}", title)
