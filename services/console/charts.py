"""Charts as inline SVG, drawn on the server: no JavaScript, nothing to download.

Every function is pure: data in, an SVG string out (``Markup``, already escaped, so a
template can place it as is). Labels that came from webhooks (test names, titles) go
through :func:`markupsafe.escape` like everything else.

A day chart's x axis is one slot per day, oldest on the left::

    runs ▕ ▇ ▇ ▂ ▇
         ▕ ▇ ▇ ▇ ▇      pass (green) / fail (red) / skip (grey), stacked
         └─────────
           1 2 3 4  (days)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup, escape

__all__ = ["DayCounts", "Mark", "day_bars", "lines", "timeline"]

WIDTH = 720
PAD_LEFT = 44
PAD_RIGHT = 12
PAD_TOP = 24
PAD_BOTTOM = 28


@dataclass(frozen=True)
class DayCounts:
    """One day's executions of a test (or builds of a pipeline)."""

    day: date
    passed: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Mark:
    """One moment on a timeline: what happened (``kind`` picks the colour), a label."""

    at: datetime
    kind: str  # deploy | failure | incident | alert | delivery
    label: str
    detail: str = ""


def _svg(height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - the parts are escaped


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    top = step
    while top < value:
        top += step
    return top


def _axes(height: int, top: float, unit: str, *, whole: bool = False) -> list[str]:
    bottom = height - PAD_BOTTOM
    parts = [
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{bottom}"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{bottom}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{bottom}"/>',
    ]
    for fraction in (0.5, 1.0):
        if whole and (top * fraction) % 1:
            continue  # counts: no tick at 0.5
        y = bottom - (bottom - PAD_TOP) * fraction
        label = f"{top * fraction:g}{unit}"
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" '
            f'y2="{y:.1f}"/><text class="tick" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    return parts


def _day_ticks(days: Sequence[date], x_of: list[float], height: int) -> list[str]:
    if not days:
        return []
    every = max(1, len(days) // 6)
    return [
        f'<text class="tick" x="{x_of[i]:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{days[i]:%m-%d}</text>"
        for i in range(0, len(days), every)
    ]


def day_bars(
    counts: Sequence[DayCounts],
    title: str,
    height: int = 180,
    names: tuple[str, str, str] = ("pass", "fail", "skip"),
) -> Markup:
    """Stacked bars, one per day: passed, failed, skipped (``names`` says what each is
    called in the bars' tooltips, e.g. deploys and failed deploys per week)."""
    top = _nice_max(max((c.passed + c.failed + c.skipped for c in counts), default=0))
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    slot = span / max(len(counts), 1)
    bar = max(slot * 0.8, 1.0)
    scale = (height - PAD_TOP - PAD_BOTTOM) / top
    body = _axes(height, top, "", whole=True)
    centres: list[float] = []
    for i, c in enumerate(counts):
        x = PAD_LEFT + i * slot + (slot - bar) / 2
        centres.append(x + bar / 2)
        y = float(height - PAD_BOTTOM)
        for kind, name, n in zip(
            ("pass", "fail", "skip"), names, (c.passed, c.failed, c.skipped), strict=True
        ):
            if n <= 0:
                continue
            h = n * scale
            y -= h
            body.append(
                f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}"><title>{c.day:%Y-%m-%d}: {n} {escape(name)}</title></rect>'
            )
    body += _day_ticks([c.day for c in counts], centres, height)
    return _svg(height, title, body)


def lines(
    days: Sequence[date],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    unit: str = "s",
    height: int = 180,
) -> Markup:
    """One polyline per ``(name, values)`` over ``days`` (``None``: no point that day)."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = _nice_max(max(values, default=0.0))
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    slot = span / max(len(days), 1)
    xs = [PAD_LEFT + slot * (i + 0.5) for i in range(len(days))]
    scale = (height - PAD_TOP - PAD_BOTTOM) / top
    body = _axes(height, top, unit)
    for n, (name, vs) in enumerate(series):
        points = [
            f"{xs[i]:.1f},{height - PAD_BOTTOM - v * scale:.1f}"
            for i, v in enumerate(vs)
            if v is not None
        ]
        if not points:
            continue
        css = f"series{n % 3}"
        if len(points) == 1:
            x, y = points[0].split(",")
            body.append(f'<circle class="{css}" cx="{x}" cy="{y}" r="3"/>')
        else:
            body.append(f'<polyline class="{css}" points="{" ".join(points)}"/>')
        body.append(
            f'<text class="legend {css}" x="{PAD_LEFT + 8 + 70 * n}" y="14">{escape(name)}</text>'
        )
    body += _day_ticks(days, xs, height)
    return _svg(height, title, body)


def _when(at: datetime, first: datetime) -> str:
    seconds = int((at - first).total_seconds())
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    if seconds < 3600:
        return f"{sign}{seconds // 60}m{seconds % 60:02d}s"
    return f"{sign}{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def timeline(marks: Sequence[Mark], title: str) -> Markup:
    """Moments on one time axis, earliest on the left, one row per mark so labels never
    overlap; each row says the time relative to the first mark."""
    ordered = sorted(marks, key=lambda m: m.at)
    row = 34
    height = PAD_TOP + row * max(len(ordered), 1) + PAD_BOTTOM
    if not ordered:
        return _svg(height, title, [])
    first, last = ordered[0].at, ordered[-1].at
    span_s = max((last - first).total_seconds(), 1.0)
    left, right = PAD_LEFT + 90, WIDTH - 250
    bottom = height - PAD_BOTTOM
    body = [
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<text class="tick" x="{left}" y="{bottom + 16}" text-anchor="middle">'
        f"{first:%Y-%m-%d %H:%M:%S}Z</text>",
        f'<text class="tick" x="{right}" y="{bottom + 16}" text-anchor="middle">'
        f"{_when(last, first)}</text>",
    ]
    for i, mark in enumerate(ordered):
        x = left + (right - left) * (mark.at - first).total_seconds() / span_s
        y = PAD_TOP + row * i + row / 2
        kind = escape(mark.kind)
        body.append(
            f'<g class="mark {kind}"><line class="guide" x1="{x:.1f}" y1="{y:.1f}" '
            f'x2="{x:.1f}" y2="{bottom}"/><circle cx="{x:.1f}" cy="{y:.1f}" r="6"/>'
            f'<text class="label" x="{PAD_LEFT - 38}" y="{y + 4:.1f}">{escape(mark.label)}</text>'
            f'<text class="tick" x="{right + 10}" y="{y + 4:.1f}">'
            f"{escape(_when(mark.at, first))} {escape(mark.detail)}</text>"
            f"<title>{escape(mark.label)} at {mark.at:%Y-%m-%d %H:%M:%S}Z</title></g>"
        )
    return _svg(height, title, body)
