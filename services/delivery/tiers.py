"""The DORA tiers of the 2023 Accelerate State of DevOps report, as DevLake applies them.

DevLake's DORA dashboard (``grafana/dashboards/DORA.json``, "2023 report" benchmarks,
documented under devlake.apache.org/docs/Metrics/) turns each key into a tier with
these cut-offs; kitestream uses the same ones, boundaries included:

=====================  ===================================  ==============================
key                    elite / high / medium                low
=====================  ===================================  ==============================
deployment frequency   median deployment days per week      median deployment days per
                       >= 7 / >= 1; per month >= 1          month < 1
lead time for changes  < 1 day / < 1 week / < 30 days       >= 30 days
change failure rate    <= 5% / <= 10% / <= 15%              > 15%
time to restore        < 1 hour / < 1 day / < 1 week        >= 1 week
=====================  ===================================  ==============================

No data, no tier: ``None`` (a service with no deploys has no frequency tier, not "low").
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "TIERS",
    "Tier",
    "change_failure_tier",
    "frequency_tier",
    "lead_time_tier",
    "restore_tier",
]

Tier = Literal["elite", "high", "medium", "low"]
TIERS: tuple[Tier, ...] = ("elite", "high", "medium", "low")

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY


def frequency_tier(days_per_week: float | None, days_per_month: float | None) -> Tier | None:
    """From the (lower) median number of deployment days per week and per month."""
    if days_per_week is None or days_per_month is None:
        return None
    if days_per_week >= 7:
        return "elite"
    if days_per_week >= 1:
        return "high"
    if days_per_month >= 1:
        return "medium"
    return "low"


def lead_time_tier(seconds: float | None) -> Tier | None:
    if seconds is None:
        return None
    if seconds < DAY:
        return "elite"
    if seconds < WEEK:
        return "high"
    if seconds < MONTH:
        return "medium"
    return "low"


def change_failure_tier(failed: int, deploys: int) -> Tier | None:
    """From the counts, so that 1 of 20 is exactly 5% (elite), with no float rounding."""
    if deploys <= 0:
        return None
    if failed * 100 <= 5 * deploys:
        return "elite"
    if failed * 100 <= 10 * deploys:
        return "high"
    if failed * 100 <= 15 * deploys:
        return "medium"
    return "low"


def restore_tier(seconds: float | None) -> Tier | None:
    if seconds is None:
        return None
    if seconds < HOUR:
        return "elite"
    if seconds < DAY:
        return "high"
    if seconds < WEEK:
        return "medium"
    return "low"
