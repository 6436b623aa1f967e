"""The four keys over one range ``[since, until)``: plain rows in, numbers out.

Which deploys count: those that finished inside the range. For each key:

- **Deployment frequency**: deploys, deployment days, deploys per week; the DORA tier
  from DevLake's lower medians of deployment days per calendar week and per calendar
  month of the range; and Four Keys' bucket (Daily, Weekly, Monthly, Yearly) over the
  three months up to ``until`` (:func:`frequency_bucket`).
- **Lead time for changes**: the median of ``finished_at - committed_at`` over the
  deploys with a commit time, ignoring values <= 0 (Four Keys ignores them as
  automated pushes); each value says where its commit time came from.
- **Change failure rate**: failed deploys / deploys. A deploy failed when the
  correlator linked it to an incident (a ``failure_deploy_incident`` alert naming it);
  an incident (opened before ``until``) the correlator linked to no deploy falls back
  to DevLake's rule, the latest deploy of its service before it opened.
- **Time to restore**: the median of ``resolved_at - opened_at`` over the incidents
  opened in the range and resolved (Four Keys); still open ones are counted apart.

Nothing here reads a clock: ``since`` and ``until`` are given.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from services.delivery.records import Deploy, Incident, Link
from services.delivery.stats import (
    add_months,
    days_between,
    lower_median,
    median,
    month_start,
    week_start,
)
from services.delivery.tiers import (
    WEEK,
    Tier,
    change_failure_tier,
    frequency_tier,
    lead_time_tier,
    restore_tier,
)

__all__ = [
    "Bucket",
    "FailedDeploy",
    "Keys",
    "failures",
    "four_keys",
    "frequency_bucket",
    "last_day",
]

Bucket = Literal["daily", "weekly", "monthly", "yearly"]
FailedBy = Literal["alert", "latest_deploy_before_incident"]

_TICK = timedelta(microseconds=1)


def last_day(until: datetime) -> date:
    """The last day a half-open range ending at ``until`` touches."""
    return (until - _TICK).date()


@dataclass(frozen=True)
class FailedDeploy:
    """A deploy counted as failed, and why: the alerts that link it to incidents, or
    (``latest_deploy_before_incident``) the incident it was the latest deploy before."""

    deploy: Deploy
    by: FailedBy
    incident_ids: tuple[str, ...]
    alerts: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Keys:
    since: datetime
    until: datetime
    deploys: int
    deploy_days: int
    deploys_per_week: float
    days_per_week: float | None  # DevLake's median deployment days per week
    days_per_month: float | None  # ... per month
    frequency_tier: Tier | None
    frequency_bucket: Bucket | None  # Four Keys, the 3 months up to ``until``
    lead_time_s: float | None
    lead_times: int  # deploys whose lead time counted
    lead_time_sources: dict[str, int]  # commit time source -> how many of those
    without_lead_time: int  # no commit, no commit time, or a value <= 0
    lead_time_tier: Tier | None
    failed: tuple[FailedDeploy, ...]
    change_failure_rate: float | None
    change_failure_tier: Tier | None
    incidents: int  # opened in the range
    unresolved: int
    time_to_restore_s: float | None
    restore_tier: Tier | None
    notes: tuple[str, ...] = field(default=())


def _in(at: datetime, since: datetime, until: datetime) -> bool:
    return since <= at < until


def _calendar_medians(
    deployed: set[date], first: date, last: date
) -> tuple[float | None, float | None]:
    """DevLake's lower medians of deployment days per calendar week and per month over
    every day from ``first`` to ``last`` (weeks and months with none count as 0)."""
    days = days_between(first, last) if first <= last else []
    weeks: Counter[date] = Counter()
    months: Counter[date] = Counter()
    for day in days:
        weeks[week_start(day)] += day in deployed
        months[month_start(day)] += day in deployed
    return lower_median(list(weeks.values())), lower_median(list(months.values()))


def frequency_bucket(
    deploy_times: Iterable[datetime], until: datetime, data_start: datetime | None = None
) -> Bucket | None:
    """Four Keys' deployment frequency over the three months up to ``until``: Daily when
    the median deployment days per week is >= 3, Weekly when most weeks had a deploy,
    Monthly when the median over weeks of "weeks with a deploy in that week's month" is
    >= 1, else Yearly. Days before ``data_start`` (the first data there is) are left
    out, as Four Keys leaves out days before its first event. No deploy: ``None``."""
    last = last_day(until)
    first = add_months(last, -3)
    if data_start is not None and data_start.date() > first:
        first = data_start.date()
    deployed = {t.date() for t in deploy_times if first <= t.date() <= last}
    if not deployed:
        return None
    per_week: Counter[date] = Counter()
    for day in days_between(first, last):
        per_week[week_start(day)] += day in deployed
    weeks = sorted(per_week)
    week_deployed = {w: 1 if per_week[w] else 0 for w in weeks}
    per_month: Counter[date] = Counter()
    for w in weeks:
        per_month[month_start(w)] += week_deployed[w]
    if (median(per_week[w] for w in weeks) or 0) >= 3:
        return "daily"
    if (median(week_deployed.values()) or 0) >= 1:
        return "weekly"
    if (median(per_month[month_start(w)] for w in weeks) or 0) >= 1:
        return "monthly"
    return "yearly"


def failures(
    deploys: Sequence[Deploy],
    incidents: Sequence[Incident],
    links: Sequence[Link],
    until: datetime,
) -> dict[tuple[str, str], FailedDeploy]:
    """Which deploys failed, by deploy key: those an alert links to an incident, then
    the latest deploy of its service before each incident (opened before ``until``)
    that no alert links to anything. A property of the deploy, whatever range asks."""
    by_deploy: dict[tuple[str, str], list[Link]] = {}
    for link in links:
        by_deploy.setdefault((link.deployed_service, link.deploy_id), []).append(link)
    ordered = sorted(
        {d.key: d for d in deploys}.values(), key=lambda d: (d.finished_at, d.deploy_id)
    )
    found: dict[tuple[str, str], FailedDeploy] = {}
    for d in ordered:
        mine = by_deploy.get(d.key)
        if mine:
            alerts = tuple(sorted(mine, key=lambda k: k.alert_id))
            ids = tuple(sorted({k.incident_id for k in alerts}))
            found[d.key] = FailedDeploy(d, "alert", ids, alerts)
    linked = {link.incident_id for link in links}
    by_service: dict[str, list[Deploy]] = {}
    for d in ordered:
        by_service.setdefault(d.service, []).append(d)
    finished = {name: [d.finished_at for d in theirs] for name, theirs in by_service.items()}
    for incident in incidents:
        if incident.incident_id in linked or incident.opened_at >= until:
            continue
        before = bisect_right(finished.get(incident.service, []), incident.opened_at)
        if not before:
            continue
        latest = by_service[incident.service][before - 1]  # finished at or before it opened
        known = found.get(latest.key)
        if known is None:
            found[latest.key] = FailedDeploy(
                latest, "latest_deploy_before_incident", (incident.incident_id,)
            )
        elif known.by == "latest_deploy_before_incident":
            ids = tuple(sorted({*known.incident_ids, incident.incident_id}))
            found[latest.key] = FailedDeploy(latest, known.by, ids)
    return found


def four_keys(
    deploys: Sequence[Deploy],
    incidents: Sequence[Incident],
    links: Sequence[Link],
    since: datetime,
    until: datetime,
    *,
    data_start: datetime | None = None,
    failed: Mapping[tuple[str, str], FailedDeploy] | None = None,
    bucket: bool = True,
) -> Keys:
    """The four keys of ``[since, until)``. ``deploys`` may reach back before ``since``
    (the fallback rule looks for the latest deploy before an incident); ``failed``, when
    given, is :func:`failures` already worked out (the trend's weeks share it);
    ``bucket=False`` leaves out Four Keys' three-month bucket."""
    unique = {d.key: d for d in deploys}
    everything = sorted(unique.values(), key=lambda d: (d.finished_at, d.deploy_id))
    counted = [d for d in everything if _in(d.finished_at, since, until)]
    deployed = {d.finished_at.date() for d in counted}
    per_week, per_month = _calendar_medians(deployed, since.date(), last_day(until))
    weeks = max((until - since).total_seconds() / WEEK, 1e-9)

    lead: list[float] = []
    sources: Counter[str] = Counter()
    for d in counted:
        if d.committed_at is None or d.commit_time_source is None:
            continue
        seconds = (d.finished_at - d.committed_at).total_seconds()
        if seconds > 0:
            lead.append(seconds)
            sources[d.commit_time_source] += 1
    lead_s = median(lead)

    known = failures(everything, incidents, links, until) if failed is None else failed
    failed_here = [known[d.key] for d in counted if d.key in known]
    opened = [i for i in incidents if _in(i.opened_at, since, until)]
    unique_opened = list({i.incident_id: i for i in opened}.values())
    restore = [
        (i.resolved_at - i.opened_at).total_seconds()
        for i in unique_opened
        if i.resolved_at is not None and i.resolved_at >= i.opened_at
    ]
    restore_s = median(restore)

    notes = []
    if not counted:
        notes.append("no deploys in this range: no frequency, lead time or failure rate")
    if not unique_opened:
        notes.append("no incidents opened in this range: no time to restore")
    return Keys(
        since=since,
        until=until,
        deploys=len(counted),
        deploy_days=len(deployed),
        deploys_per_week=len(counted) / weeks,
        days_per_week=per_week if counted else None,
        days_per_month=per_month if counted else None,
        frequency_tier=frequency_tier(per_week, per_month) if counted else None,
        frequency_bucket=frequency_bucket((d.finished_at for d in everything), until, data_start)
        if bucket
        else None,
        lead_time_s=lead_s,
        lead_times=len(lead),
        lead_time_sources=dict(sorted(sources.items())),
        without_lead_time=len(counted) - len(lead),
        lead_time_tier=lead_time_tier(lead_s),
        failed=tuple(failed_here),
        change_failure_rate=len(failed_here) / len(counted) if counted else None,
        change_failure_tier=change_failure_tier(len(failed_here), len(counted)),
        incidents=len(unique_opened),
        unresolved=sum(1 for i in unique_opened if i.resolved_at is None),
        time_to_restore_s=restore_s,
        restore_tier=restore_tier(restore_s),
        notes=tuple(notes),
    )
