"""What one step of an open-loop benchmark showed, and whether it held its rate. Pure:
``bench/system.py`` fills these from its samples; the tests build them by hand.

A step is *held* when its backlog (consumer lag plus requests in flight) grows over the
second half of its sending time by less than :data:`GROWTH_ALLOWED` of what arrives,
its latency stays steady (the later half of its requests wait at most twice as long as
the earlier half, plus 250 ms), the generator kept to its schedule and everything it
expected arrived::

    backlog                                   backlog
      │        ┌─┐ ┌─┐ ┌─┐ ┌─┐  held            │                 ╱  not held
      │   ┌─┐  │ │ │ │ │ │ │ │                  │            ╱╱╱
      │ ┌─┘ └──┘ └─┘ └─┘ └─┘ └─                 │      ╱╱╱╱
      └──────────┴────────────▶ t               └──────────┴────────────▶ t
                 └ second half ┘                           └ second half ┘
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["GROWTH_ALLOWED", "Latency", "Step", "held", "quantile", "slope", "sweep"]

GROWTH_ALLOWED = 0.1  # a held step's backlog grows by less than this share of its input


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 < q < 1), nearest-rank on the sorted values; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(t, y)`` points, per unit of t; 0 with fewer than two."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / spread


@dataclass(frozen=True)
class Latency:
    """Seconds from each completing request's scheduled time to where it was seen."""

    values: tuple[float, ...]

    @classmethod
    def between(cls, sent: dict[int, float], seen: dict[int, float]) -> Latency:
        """In the order the requests were scheduled."""
        both = sorted((sent[i], seen[i]) for i in seen if i in sent)
        return cls(tuple(at - scheduled for scheduled, at in both))

    @property
    def steady(self) -> bool:
        """Whether the later half of the requests waited about as long as the earlier
        half (medians within 2x + 250 ms): a queue that keeps growing fails this."""
        half = len(self.values) // 2
        if half == 0:
            return True
        early = statistics.median(self.values[:half])
        late = statistics.median(self.values[half:])
        return late <= 2 * early + 0.25

    def row(self, label: str) -> str:
        ms = [quantile(self.values, q) * 1000 for q in (0.5, 0.99)]
        top = max(self.values, default=math.nan) * 1000
        return f"  {label:<36}{ms[0]:>9.1f}{ms[1]:>9.1f}{top:>9.1f}{len(self.values):>7}"


@dataclass
class Step:
    """One open-loop run at ``rate`` and what it showed."""

    rate: float
    seconds: float
    answered: Latency
    on_topic: Latency
    at_sink: Latency = Latency(())
    dispatch: Latency = Latency(())  # alert on topic -> at the sink
    expected: int = 0
    backlog: list[tuple[float, float]] = field(default_factory=list)  # (t, backlog)
    arrived: list[tuple[float, float]] = field(default_factory=list)  # (t, input so far)
    slip: float = 0.0
    failed: int = 0
    duplicates: int = 0
    to_sink: bool = True  # the last stage: the sink (system) or the topic (bare loop)
    sending_until: float = 0.0  # when the last request was due (0: the last sample)

    @property
    def growth(self) -> float:
        """Backlog growth per second over the second half of the sending time."""
        return slope(self._second_half(self.backlog))

    @property
    def input_rate(self) -> float:
        return slope(self._second_half(self.arrived)) or self.rate

    def _second_half(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """The points of the second half of the sending time (not of the drain after)."""
        if not points:
            return []
        start = points[0][0]
        end = self.sending_until or points[-1][0]
        return [p for p in points if (start + end) / 2 <= p[0] <= end]

    @property
    def why_not(self) -> str:
        """Why the step was not held ("" when it was)."""
        reasons = []
        if self.failed:
            reasons.append(f"{self.failed} failed")
        if not self.complete and not self.failed:
            reasons.append("alerts late" if self.to_sink else "not all on topic")
        if self.slip >= 1.0:
            reasons.append("generator behind")
        if self.growth > GROWTH_ALLOWED * max(self.input_rate, 1.0):
            reasons.append("backlog grows")
        if not self.last.steady:
            reasons.append("latency grows")
        return ", ".join(reasons)

    @property
    def complete(self) -> bool:
        return len(self.last.values) >= self.expected and self.failed == 0

    @property
    def last(self) -> Latency:
        """The latency to the last stage: the sink (system) or the topic (bare loop)."""
        return self.at_sink if self.to_sink else self.on_topic

    @property
    def held(self) -> bool:
        return held(
            growth=self.growth,
            input_rate=self.input_rate,
            slip=self.slip,
            complete=self.complete,
            steady=self.last.steady,
        )


def held(*, growth: float, input_rate: float, slip: float, complete: bool, steady: bool) -> bool:
    """A rate is held when the backlog grows by less than a tenth of what arrives, the
    latency does not keep growing, the generator kept its schedule (within a second) and
    everything expected arrived."""
    return complete and steady and slip < 1.0 and growth <= GROWTH_ALLOWED * max(input_rate, 1.0)


async def sweep(rates: Sequence[float], measure: Callable[[float], Awaitable[Step]]) -> list[Step]:
    """A step at each rate until one is not held, then one more halfway between it and
    the highest held before it."""
    steps: list[Step] = []
    for rate in rates:
        steps.append(await measure(rate))
        if not steps[-1].held:
            below = [s.rate for s in steps if s.held and s.rate < rate]
            if below and rate - max(below) > 1:
                steps.append(await measure(round((max(below) + rate) / 2)))
            break
    return steps
