"""What each console page shows, read through the query API's own handlers.

Every function takes a read connection (and the catalog), calls the handlers the
``/api/v1`` routes call (:mod:`services.api.tests`, :mod:`services.api.alerts`, …) with
an :class:`~services.api.ask.Ask`, and returns plain data for a template. The few
questions no API route asks (flag episodes, the flaky count per day, the store's read
positions) are the only SQL here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from services.api import alerts, delivery, pipelines, quarantine, services, tests
from services.api.ask import Ask
from services.api.pages import Json, plain
from services.api.params import Param, Query
from services.catalog.catalog import Catalog
from services.console import charts
from services.delivery.table import count, duration
from services.store.tables import flaky_episodes, jobs, store_offsets

__all__ = [
    "FLAKY_SORTS",
    "PAGE_SIZE",
    "Sources",
    "alert_page",
    "alerts_page",
    "delivery_view",
    "flaky_page",
    "moment",
    "one_test_page",
    "overview_page",
    "pipeline_page",
    "service_page",
]

PAGE_SIZE = 50
ALL_LIMIT = 500  # items per page when a view reads every page of a list
ALL_CAP = 5000  # …and at most this many items

Handler = Callable[[Ask], Json]


@dataclass(frozen=True)
class Sources:
    """What a view reads from: a connection on the store and the catalog."""

    conn: sa.Connection
    catalog: Catalog

    def ask(
        self,
        handler: Handler,
        declared: Iterable[Param],
        params: Mapping[str, str] | None = None,
        path: Mapping[str, str] | None = None,
    ) -> Json:
        query = Query(dict(params or {}), tuple(declared), max_limit=ALL_LIMIT)
        return handler(Ask(self.conn, query, dict(path or {}), self.catalog))

    def every(
        self,
        handler: Handler,
        declared: Iterable[Param],
        params: Mapping[str, str],
        path: Mapping[str, str] | None = None,
    ) -> list[Json]:
        """Every item of a list route (up to :data:`ALL_CAP`), following ``next``."""
        declared = tuple(declared)
        items: list[Json] = []
        cursor: str | None = None
        while len(items) < ALL_CAP:
            asked = {**params, "limit": str(ALL_LIMIT)} | ({"cursor": cursor} if cursor else {})
            answer = self.ask(handler, declared, asked, path)
            items += answer["items"]
            cursor = answer["next"]
            if cursor is None:
                break
        return items


def _only(params: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    return {n: params[n] for n in names if params.get(n)}


# -- flaky tests -------------------------------------------------------------------------

FLAKY_SORTS: dict[str, Callable[[Json], Any]] = {
    "score": lambda t: t.get("score") or 0.0,
    "name": lambda t: (t.get("name") or t["test_key"]).lower(),
    "suite": lambda t: t.get("suite") or t.get("pipeline") or "",
    "service": lambda t: t.get("service") or "",
    "since": lambda t: t.get("flaky_since") or datetime.min.replace(tzinfo=UTC),
    "runs": lambda t: t.get("window_runs") or 0,
    "failures": lambda t: t.get("window_failures") or 0,
    "flips": lambda t: t.get("window_flips") or 0,
    "last_failure": lambda t: t.get("last_failure_at") or datetime.min.replace(tzinfo=UTC),
}


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) >= 1 else 1


def _service_of_suite(catalog: Catalog, suite: str | None) -> str | None:
    """The catalog service whose test suites hold ``suite`` (the first by name)."""
    owners = sorted(name for name, s in catalog.services.items() if suite in s.test_suites)
    return owners[0] if owners else None


def flaky_page(src: Sources, params: Mapping[str, str]) -> dict[str, Any]:
    """The flaky tests now, filtered (suite, service, name), sorted, one page of them."""
    filters = _only(params, ("suite", "service", "q"))
    found = src.every(tests.list_tests, tests.TEST_PARAMS, {**filters, "status": "flaky"})
    everyone = (
        found
        if not filters
        else src.every(tests.list_tests, tests.TEST_PARAMS, {"status": "flaky"})
    )
    asked = params.get("sort", "")
    sort = asked if asked in FLAKY_SORTS else "score"
    descending = params.get("dir", "desc" if sort == "score" else "asc") == "desc"
    for t in found:  # the catalog names the service of a suite the store did not tie to one
        t["service"] = t.get("service") or _service_of_suite(src.catalog, t.get("suite"))
    ordered = sorted(found, key=lambda t: t["test_key"])
    ordered.sort(key=FLAKY_SORTS[sort], reverse=descending)
    number = _page_number(params.get("page"))
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    number = min(number, pages)
    chosen = ordered[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    for t in chosen:
        evidence = t.get("last_evidence") or []
        t["evidence_latest"] = evidence[0] if evidence else None
        urls = [u for e in evidence for u in (e.get("urls") or [])]
        t["buildkite_url"] = urls[0] if urls else None
    return {
        "tests": chosen,
        "total": len(ordered),
        "filters": filters,
        "sort": sort,
        "dir": "desc" if descending else "asc",
        "page": number,
        "pages": pages,
        "suites": sorted({t["suite"] for t in everyone if t.get("suite")}),
        "services": sorted(
            {t["service"] for t in everyone if t.get("service")} | set(src.catalog.services)
        ),
    }


# -- one test ----------------------------------------------------------------------------


def _days(last: date, count: int) -> list[date]:
    return [last - timedelta(days=count - 1 - i) for i in range(count)]


def one_test_page(src: Sources, key: str, today: date, span_days: int = 60) -> dict[str, Any]:
    """A test now, its days (chart and table), evidence, flag episodes, kept failures."""
    since = today - timedelta(days=span_days - 1)
    history = src.ask(
        tests.test_history,
        tests.HISTORY_PARAMS,
        {"since": since.isoformat(), "limit": str(span_days)},
        {"key": key},
    )
    by_day = {item["day"]: item for item in history["items"]}
    days = _days(today, span_days)
    counts = [
        charts.DayCounts(
            d,
            by_day[d]["passes"] if d in by_day else 0,
            by_day[d]["failures"] if d in by_day else 0,
            by_day[d]["skips"] if d in by_day else 0,
        )
        for d in days
    ]
    p50 = [by_day[d]["duration_p50_s"] if d in by_day else None for d in days]
    p95 = [by_day[d]["duration_p95_s"] if d in by_day else None for d in days]
    evidence = [e for item in history["items"] for e in item["evidence"]]
    episodes = src.conn.execute(
        sa.select(flaky_episodes.c.flagged_at, flaky_episodes.c.recovered_at)
        .where(flaky_episodes.c.test_key == key)
        .order_by(flaky_episodes.c.flagged_at.desc())
    ).all()
    failures = src.ask(
        tests.list_results,
        tests.RESULT_PARAMS,
        {"result": "failed", "limit": "20"},
        {"key": key},
    )
    now = history["test"]
    if now is not None and not now.get("service"):
        now["service"] = _service_of_suite(src.catalog, now.get("suite"))
    return {
        "key": key,
        "test": now,
        "days": history["items"],
        "runs_chart": charts.day_bars(counts, "passed, failed and skipped per day"),
        "duration_chart": charts.lines(
            days, [("p50", p50), ("p95", p95)], "duration per day (p50, p95)"
        ),
        "evidence": evidence,
        "episodes": [plain(e) for e in episodes],
        "failures": failures["items"],
        "quarantine": src.ask(quarantine.test_quarantine, (), {}, {"key": key}),
    }


# -- alerts ------------------------------------------------------------------------------

ALERT_FILTERS = ("kind", "service", "severity", "since", "until", "cursor")


def alerts_page(src: Sources, params: Mapping[str, str]) -> dict[str, Any]:
    chosen = _only(params, ALERT_FILTERS)
    answer = src.ask(alerts.list_alerts, alerts.ALERT_PARAMS, {**chosen, "limit": str(PAGE_SIZE)})
    return {
        "alerts": answer["items"],
        "next": answer["next"],
        "filters": {k: v for k, v in chosen.items() if k != "cursor"},
        "kinds": alerts.KINDS,
        "severities": alerts.SEVERITIES,
        "services": sorted(src.catalog.services),
    }


def moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _short(text: object, width: int = 28) -> str:
    words = str(text or "")
    return words if len(words) <= width else words[: width - 1] + "…"


def alert_marks(alert: Json) -> list[charts.Mark]:
    """The moments of an alert: deploy, failure, incident, the alert, each delivery."""
    deploy = alert.get("deploy") or {}
    failure = alert.get("failure") or {}
    incident = alert.get("incident") or {}
    found: list[tuple[object, str, str, str]] = [
        (
            deploy.get("at"),
            "deploy",
            "deploy",
            f"{deploy.get('state', '')} {deploy.get('environment', '')}".strip(),
        ),
        (failure.get("at"), "failure", "failure", failure.get("title", "")),
        (incident.get("opened_at"), "incident", "incident", incident.get("title", "")),
        (alert.get("created_at"), "alert", "alert", alert.get("severity", "")),
    ]
    found += [
        (
            d.get("at"),
            "delivery",
            f"→ {d.get('sink', '')}",
            f"{d.get('outcome', '')} ×{d.get('attempts', 0)}",
        )
        for d in alert.get("deliveries", [])
    ]
    marks = []
    for at, kind, label, detail in found:
        when = moment(at)
        if when is not None:
            marks.append(charts.Mark(when, kind, _short(label, 14), _short(detail, 30)))
    return marks


def alert_page(src: Sources, alert_id: str) -> dict[str, Any]:
    alert = src.ask(alerts.alert, (), {}, {"alert_id": alert_id})
    marks = alert_marks(alert)
    return {
        "alert": alert,
        "timeline": charts.timeline(marks, "deploy, failure, incident, alert, deliveries")
        if marks
        else None,
    }


# -- overview ----------------------------------------------------------------------------


def flaky_per_day(conn: sa.Connection, days: list[date]) -> list[int]:
    """How many tests were flagged at the end of each day, from the flag episodes."""
    first = datetime.combine(days[0], time(), UTC)
    rows = conn.execute(
        sa.select(flaky_episodes.c.flagged_at, flaky_episodes.c.recovered_at).where(
            sa.or_(flaky_episodes.c.recovered_at.is_(None), flaky_episodes.c.recovered_at >= first)
        )
    ).all()
    spans = [(moment(f), moment(r)) for f, r in rows]
    counts = []
    for day in days:
        end = datetime.combine(day + timedelta(days=1), time(), UTC)
        counts.append(
            sum(1 for f, r in spans if f is not None and f < end and (r is None or r >= end))
        )
    return counts


def overview_page(src: Sources, now: datetime) -> dict[str, Any]:
    since = (now - timedelta(hours=24)).isoformat()
    recent = src.ask(alerts.list_alerts, alerts.ALERT_PARAMS, {"since": since, "limit": "20"})
    flaky = src.every(tests.list_tests, tests.TEST_PARAMS, {"status": "flaky"})
    flaky.sort(key=lambda t: -(t.get("score") or 0.0))
    days = _days(now.date(), 30)
    trend = flaky_per_day(src.conn, days)
    failing = []
    for p in src.every(pipelines.list_pipelines, pipelines.PIPELINE_PARAMS, {}):
        wanted = {"limit": "1"} | (
            {"branch": p["default_branch"]} if p.get("default_branch") else {}
        )
        latest = src.ask(pipelines.list_builds, pipelines.BUILD_PARAMS, wanted, {"slug": p["slug"]})
        if latest["items"] and latest["items"][0].get("state") == "failed":
            failing.append({"pipeline": p, "build": latest["items"][0]})
    offsets = src.conn.execute(
        sa.select(
            store_offsets.c.topic,
            sa.func.sum(store_offsets.c.next_offset).label("read"),
            sa.func.count().label("partitions"),
        )
        .group_by(store_offsets.c.topic)
        .order_by(store_offsets.c.topic)
    ).all()
    return {
        "alerts": recent["items"],
        "flaky": flaky[:10],
        "flaky_count": len(flaky),
        "trend_chart": charts.lines(
            days, [("flaky tests", [float(n) for n in trend])], "flaky tests per day", unit=""
        ),
        "failing": failing,
        "offsets": [plain(o) for o in offsets],
    }


# -- service and pipeline ----------------------------------------------------------------


def _tile(key: str, value: str, detail: str, tier: str | None) -> dict[str, Any]:
    return {"key": key, "value": value, "detail": detail, "tier": tier}


def delivery_view(answer: Json) -> dict[str, Any]:
    """The service page's delivery tiles and 12-week charts, from the API's answer."""
    f, lead = answer["deployment_frequency"], answer["lead_time"]
    cfr, restore = answer["change_failure_rate"], answer["time_to_restore"]
    rate = "–" if cfr["rate"] is None else f"{100 * cfr['rate']:.0f}%"
    measured, resolved = lead["measured"], restore["incidents"] - restore["unresolved"]
    lead_detail = (
        f"median of {count(measured, 'deploy')}, from the commit's first build"
        if measured
        else "no deploy whose commit was built before it"
    )
    if not restore["incidents"]:
        restore_detail = "no incidents"
    elif not resolved:
        restore_detail = f"{count(restore['incidents'], 'incident')}, none resolved yet"
    else:
        restore_detail = f"median of {count(resolved, 'resolved incident')}" + (
            f", {restore['unresolved']} still open" if restore["unresolved"] else ""
        )
    tiles = [
        _tile("deployment frequency", f"{f['per_week']:.1f}/week",
              f"{count(f['deploys'], 'deploy')} on {count(f['deploy_days'], 'day')}", f["tier"]),
        _tile("lead time for changes", duration(lead["median_s"]), lead_detail, lead["tier"]),
        _tile("change failure rate", rate, f"{cfr['failed']} of {count(cfr['deploys'], 'deploy')}",
              cfr["tier"]),
        _tile("time to restore", duration(restore["median_s"]), restore_detail, restore["tier"]),
    ]  # fmt: skip
    weeks = answer["weekly"]
    mondays = [date.fromisoformat(w["week"]) for w in weeks]
    bars = charts.day_bars(
        [
            charts.DayCounts(d, w["deploys"] - w["failed"], w["failed"])
            for d, w in zip(mondays, weeks, strict=True)
        ],
        "Deploys per week, failed ones in red",
        names=("deploys", "failed deploys", ""),
    )
    hours = [
        (
            "lead time",
            [None if w["lead_time_s"] is None else w["lead_time_s"] / 3600 for w in weeks],
        ),
        (
            "time to restore",
            [
                None if w["time_to_restore_s"] is None else w["time_to_restore_s"] / 3600
                for w in weeks
            ],
        ),
    ]
    return {
        "tiles": tiles,
        "notes": answer["notes"],
        "failed": cfr["failed_deploys"],
        "bars": bars,
        "hours": charts.lines(
            mondays, hours, "Median lead time and time to restore per week", unit="h"
        )
        if any(v is not None for _, values in hours for v in values)
        else None,
        "weeks": len(weeks),
    }


def service_page(src: Sources, name: str) -> dict[str, Any]:
    found = src.ask(services.service, services.SERVICE_PARAMS, {"recent": "20"}, {"name": name})
    answer = src.ask(delivery.service_delivery, delivery.DELIVERY_PARAMS, {}, {"name": name})
    return {**found, "delivery": delivery_view(answer)}


def _seconds(build: Json) -> float | None:
    start, end = moment(build.get("started_at")), moment(build.get("finished_at"))
    return None if start is None or end is None else (end - start).total_seconds()


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pipeline_page(src: Sources, slug: str, today: date, span_days: int = 30) -> dict[str, Any]:
    since = today - timedelta(days=span_days - 1)
    builds = src.every(
        pipelines.list_builds, pipelines.BUILD_PARAMS, {"since": since.isoformat()}, {"slug": slug}
    )
    days = _days(today, span_days)
    per_day: dict[date, list[Json]] = {d: [] for d in days}
    for b in builds:
        at = moment(b.get("created_at") or b.get("event_at"))
        if at is not None and at.date() in per_day:
            per_day[at.date()].append(b)
    counts = [
        charts.DayCounts(
            d,
            sum(1 for b in per_day[d] if b.get("state") == "passed"),
            sum(1 for b in per_day[d] if b.get("state") == "failed"),
            sum(1 for b in per_day[d] if b.get("state") not in ("passed", "failed")),
        )
        for d in days
    ]
    durations = [[s for b in per_day[d] if (s := _seconds(b)) is not None] for d in days]
    finished = [b for b in builds if b.get("state") in ("passed", "failed")]
    failing_steps = src.conn.execute(
        sa.select(jobs.c.step_key, jobs.c.label, sa.func.count().label("failures"))
        .where(jobs.c.pipeline == slug, jobs.c.state == "failed")
        .group_by(jobs.c.step_key, jobs.c.label)
        .order_by(sa.desc("failures"))
        .limit(10)
    ).all()
    flaky_steps = src.ask(tests.flaky_tests, tests.FLAKY_PARAMS, {"pipeline": slug, "limit": "20"})
    return {
        "slug": slug,
        "builds": builds[:30],
        "pass_rate": (
            sum(1 for b in finished if b.get("state") == "passed") / len(finished)
            if finished
            else None
        ),
        "builds_chart": charts.day_bars(counts, "builds per day: passed, failed, other"),
        "duration_chart": charts.lines(
            days,
            [
                ("p50", [_quantile(v, 0.5) for v in durations]),
                ("p95", [_quantile(v, 0.95) for v in durations]),
            ],
            "build duration per day (p50, p95)",
        ),
        "failing_steps": [plain(s) for s in failing_steps],
        "flaky_steps": flaky_steps["items"],
    }
