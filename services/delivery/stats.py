"""Medians and calendar steps, as the two sources compute them.

Four Keys takes BigQuery's ``PERCENTILE_CONT(x, 0.5)``: the interpolated median
(:func:`median`, the mean of the two middle values of an even count). DevLake's tier
queries take ``max(x) where percent_rank() <= 0.5``: the lower median
(:func:`lower_median`, the middle value, or the lower of the two middle ones)::

    values   1  2  3  10      median 2.5      lower_median 2

Weeks start on Monday 00:00 UTC (DevLake's ``WEEKDAY``; BigQuery's ``WEEK`` starts on
Sunday, kitestream uses Monday everywhere so the trend and the tiers agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "add_months",
    "days_between",
    "lower_median",
    "median",
    "midnight",
    "month_start",
    "week_start",
]


def median(values: Iterable[float]) -> float | None:
    """The interpolated median; ``None`` for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    if n % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def lower_median(values: Sequence[float]) -> float | None:
    """DevLake's median: the largest value whose ``percent_rank`` is at most 0.5."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day (like SQL's
    ``DATE_SUB(d, INTERVAL 3 MONTH)``: 2026-05-31 minus 3 months is 2026-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_of_next = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last = (first_of_next - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last))


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)
