"""The four keys week by week: the last ``weeks`` calendar weeks (Monday 00:00 UTC)
up to the one holding the range's last day, oldest first::

    week of   2026-09-07  2026-09-14  ...  2026-11-23   (12 weeks)
    deploys        4           6              5
    failed         0           1              0          red in the console's bars

Each week is :func:`~services.delivery.keys.four_keys` over ``[monday, next monday)``,
so a week's numbers mean exactly what the range's numbers mean.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.delivery.keys import FailedDeploy, failures, four_keys, last_day
from services.delivery.records import Deploy, Incident, Link
from services.delivery.stats import midnight, week_start

__all__ = ["Week", "first_week", "weekly"]


@dataclass(frozen=True)
class Week:
    start: date
    deploys: int
    failed: int
    change_failure_rate: float | None
    lead_time_s: float | None
    incidents: int
    time_to_restore_s: float | None


def first_week(until: datetime, weeks: int) -> date:
    """The Monday the trend starts on."""
    return week_start(last_day(until)) - timedelta(weeks=weeks - 1)


def weekly(
    deploys: Sequence[Deploy],
    incidents: Sequence[Incident],
    links: Sequence[Link],
    until: datetime,
    weeks: int = 12,
    *,
    failed: Mapping[tuple[str, str], FailedDeploy] | None = None,
) -> list[Week]:
    """``failed``: :func:`~services.delivery.keys.failures` when already worked out."""
    start = first_week(until, weeks)
    if failed is None:
        failed = failures(deploys, incidents, links, until)
    ordered = sorted(deploys, key=lambda d: d.finished_at)
    finished = [d.finished_at for d in ordered]
    opened = sorted(incidents, key=lambda i: i.opened_at)
    opened_at = [i.opened_at for i in opened]
    found = []
    for i in range(weeks):
        monday = start + timedelta(weeks=i)
        since, end = midnight(monday), midnight(monday + timedelta(weeks=1))
        mine = ordered[bisect_left(finished, since) : bisect_left(finished, end)]
        theirs = opened[bisect_left(opened_at, since) : bisect_left(opened_at, end)]
        keys = four_keys(mine, theirs, links, since, end, failed=failed, bucket=False)
        found.append(
            Week(
                start=monday,
                deploys=keys.deploys,
                failed=len(keys.failed),
                change_failure_rate=keys.change_failure_rate,
                lead_time_s=keys.lead_time_s,
                incidents=keys.incidents,
                time_to_restore_s=keys.time_to_restore_s,
            )
        )
    return found
