"""Mergeable duration percentiles: a fixed log-scale histogram per test and day. Pure.

``test_days.duration_hist`` holds how many executions fell in each bucket of
:data:`~services.store.tables.DURATION_BUCKETS`, sparse, as ``{"index": count}`` (JSON
object keys are strings). Bucket ``i`` holds durations up to ``DURATION_BUCKETS[i]``
seconds and above the bound before it; the last index, ``len(DURATION_BUCKETS)``, holds
everything longer. Buckets are a factor of 1.5 apart, so a percentile read back is
within 50 % of the true value, and the histograms of any set of days add up into the
histogram of their union::

    day 1: {"12": 3, "13": 1}      day 2: {"13": 2}
    both:  {"12": 3, "13": 3}      p50 -> inside bucket 12 or 13, interpolated

That is what makes p50/p95 over a week or a year a sum of rows, not a re-read of every
execution.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping

from services.store.tables import DURATION_BUCKETS

__all__ = ["Histogram", "add", "bucket_of", "merge", "quantile"]

# Bucket index (as a string, the JSON form) -> count.
Histogram = dict[str, int]


def bucket_of(duration_s: float) -> int:
    """The bucket a duration falls in (negative durations count as zero)."""
    return bisect_left(DURATION_BUCKETS, max(duration_s, 0.0))


# Bucket indexes as the strings histograms are keyed by, made once.
_INDEX_NAMES = tuple(str(index) for index in range(len(DURATION_BUCKETS) + 1))


def add(hist: Histogram, duration_s: float) -> None:
    """Count one duration into ``hist`` (in place)."""
    index = _INDEX_NAMES[bisect_left(DURATION_BUCKETS, max(duration_s, 0.0))]
    hist[index] = hist.get(index, 0) + 1


def merge(hists: Iterable[Mapping[str, int]]) -> Histogram:
    """The bucket-by-bucket sum of ``hists``."""
    total: Histogram = {}
    for hist in hists:
        for index, count in hist.items():
            total[index] = total.get(index, 0) + int(count)
    return total


def _bounds(index: int) -> tuple[float, float]:
    low = 0.0 if index == 0 else DURATION_BUCKETS[index - 1]
    high = DURATION_BUCKETS[index] if index < len(DURATION_BUCKETS) else low * 1.5
    return low, high


def quantile(hist: Mapping[str, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of the durations in ``hist``, interpolated linearly
    inside its bucket; ``None`` for an empty histogram."""
    counts = sorted((int(i), int(c)) for i, c in hist.items() if int(c) > 0)
    total = sum(c for _, c in counts)
    if total == 0:
        return None
    target = q * total
    seen = 0
    for index, count in counts:
        if seen + count >= target:
            low, high = _bounds(index)
            share = (target - seen) / count
            return round(low + (high - low) * share, 6)
        seen += count
    low, high = _bounds(counts[-1][0])  # pragma: no cover - q > 1 only
    return high
