"""``/api/v1/services/{name}/delivery`` and ``/api/v1/teams/{team}/delivery``: the DORA
four keys over a range, their tiers, each failed deploy with its alerts, and a weekly
trend (:mod:`services.delivery`; definitions in ``docs/delivery.md``).

The range is ``[since, until)``: ``until`` defaults to now, ``since`` to 12 weeks
before it; ``weeks`` (default 12) is how many calendar weeks the trend shows, up to
the one holding the range's last day. A team is every catalog service whose ``team``
is that name, its deploys and incidents taken together, with each service's numbers
under ``services``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.api.ask import Ask
from services.api.errors import InvalidQuery, NotFound
from services.api.pages import Json
from services.api.params import Param
from services.delivery.keys import FailedDeploy, Keys, failures, four_keys, last_day
from services.delivery.query import Rows, read_rows
from services.delivery.records import Link
from services.delivery.stats import add_months, midnight
from services.delivery.trend import first_week, weekly
from services.store.tables import deploys

__all__ = [
    "DEFAULT_WEEKS",
    "DELIVERY_PARAMS",
    "keys_json",
    "service_delivery",
    "team_delivery",
]

DEFAULT_WEEKS = 12
MAX_WEEKS = 104
Failed = Mapping[tuple[str, str], FailedDeploy]
_EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)  # room to look back from, and forward to
_LATEST = datetime(9998, 1, 1, tzinfo=UTC)
DELIVERY_PARAMS = (
    Param("since", "Start of the range (default: 12 weeks before `until`).", "time"),
    Param("until", "End of the range, excluded (default: now).", "time"),
    Param("weeks", f"Weeks in the trend, 1 to {MAX_WEEKS} (default {DEFAULT_WEEKS}).", "integer"),
)


def _range(ask: Ask) -> tuple[datetime, datetime, int]:
    q = ask.query
    until = q.time("until") or datetime.now(UTC)
    if not _EARLIEST <= until <= _LATEST:
        raise InvalidQuery("until: expected a time from 1971 to 9998")
    since = q.time("since") or until - timedelta(weeks=DEFAULT_WEEKS)
    if not _EARLIEST <= since <= _LATEST:
        raise InvalidQuery("since: expected a time from 1971 to 9998")
    if since >= until:
        raise InvalidQuery("since: must be before until")
    if until - since > timedelta(days=3 * 366):
        raise InvalidQuery("since: a range of at most 3 years")
    raw = q.text("weeks")
    if raw is None:
        return since, until, DEFAULT_WEEKS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WEEKS:
        raise InvalidQuery(f"weeks: expected 1 to {MAX_WEEKS}, got {raw!r}")
    return since, until, int(raw)


def _start(since: datetime, until: datetime, weeks: int) -> datetime:
    """How far back to read: the range, the trend, Four Keys' three months, and a month
    more for the latest deploy before an incident."""
    earliest = min(
        since,
        midnight(first_week(until, weeks)),
        midnight(add_months(last_day(until), -3)),
    )
    return earliest - timedelta(days=31)


def _link_json(link: Link) -> Json:
    return {
        "alert_id": link.alert_id,
        "incident_id": link.incident_id,
        "summary": link.summary,
        "reasons": list(link.reasons),
        "links": dict(link.links),
        "rank": link.rank,
        "candidates": link.candidates,
        "console": f"/alerts/{link.alert_id}",
    }


def _failed_json(failed: FailedDeploy) -> Json:
    d = failed.deploy
    return {
        "deploy_id": d.deploy_id,
        "service": d.service,
        "finished_at": d.finished_at,
        "commit": d.commit,
        "url": d.url,
        "source": d.source,
        "failed_by": failed.by,
        "incident_ids": list(failed.incident_ids),
        "alerts": [_link_json(a) for a in failed.alerts],
    }


def keys_json(keys: Keys, *, details: bool = True) -> Json:
    """The four keys as the API answers them; ``details`` adds each failed deploy."""
    cfr: Json = {
        "rate": keys.change_failure_rate,
        "failed": len(keys.failed),
        "deploys": keys.deploys,
        "tier": keys.change_failure_tier,
    }
    if details:
        cfr["failed_deploys"] = [_failed_json(f) for f in keys.failed]
    return {
        "deployment_frequency": {
            "deploys": keys.deploys,
            "deploy_days": keys.deploy_days,
            "per_week": round(keys.deploys_per_week, 3),
            "median_deploy_days_per_week": keys.days_per_week,
            "median_deploy_days_per_month": keys.days_per_month,
            "tier": keys.frequency_tier,
            "four_keys_bucket": keys.frequency_bucket,
        },
        "lead_time": {
            "median_s": keys.lead_time_s,
            "measured": keys.lead_times,
            "not_measured": keys.without_lead_time,
            "commit_time_from": keys.lead_time_sources,
            "tier": keys.lead_time_tier,
        },
        "change_failure_rate": cfr,
        "time_to_restore": {
            "median_s": keys.time_to_restore_s,
            "incidents": keys.incidents,
            "unresolved": keys.unresolved,
            "tier": keys.restore_tier,
        },
        "notes": list(keys.notes),
    }


def _answer(rows: Rows, since: datetime, until: datetime, weeks: int, failed: Failed) -> Json:
    keys = four_keys(
        rows.deploys, rows.incidents, rows.links, since, until,
        data_start=rows.data_start, failed=failed,
    )  # fmt: skip
    trend = weekly(rows.deploys, rows.incidents, rows.links, until, weeks, failed=failed)
    return {
        "since": since,
        "until": until,
        **keys_json(keys),
        "weekly": [
            {
                "week": w.start.isoformat(),
                "deploys": w.deploys,
                "failed": w.failed,
                "change_failure_rate": w.change_failure_rate,
                "lead_time_s": w.lead_time_s,
                "incidents": w.incidents,
                "time_to_restore_s": w.time_to_restore_s,
            }
            for w in trend
        ],
    }


def _deployed_by_name(conn: sa.Connection, name: str) -> bool:
    found = conn.execute(sa.select(deploys.c.deploy_id).where(deploys.c.service == name).limit(1))
    return found.first() is not None


def service_delivery(ask: Ask) -> Json:
    name = ask.path_value("name")
    since, until, weeks = _range(ask)
    if name not in ask.catalog.services and not _deployed_by_name(ask.conn, name):
        raise NotFound(f"no service {name!r} in the catalog, and no deploy sent under that name")
    rows = read_rows(ask.conn, ask.catalog, [name], _start(since, until, weeks), until)
    known = ask.catalog.services.get(name)
    return {
        "service": name,
        "team": known.team if known else None,
        **_answer(
            rows, since, until, weeks, failures(rows.deploys, rows.incidents, rows.links, until)
        ),
    }


def _per_service(
    rows: Rows, names: Sequence[str], since: datetime, until: datetime, failed: Failed
) -> list[Json]:
    found = []
    for name in names:
        keys = four_keys(
            [d for d in rows.deploys if d.service == name],
            [i for i in rows.incidents if i.service == name],
            [k for k in rows.links if k.deployed_service == name],
            since,
            until,
            data_start=rows.data_start,
            failed=failed,  # a deploy's failure is its own, whoever asks
        )
        found.append({"service": name, **keys_json(keys, details=False)})
    return found


def team_delivery(ask: Ask) -> Json:
    team = ask.path_value("team")
    since, until, weeks = _range(ask)
    names = sorted(n for n, s in ask.catalog.services.items() if s.team == team)
    if not names:
        raise NotFound(f"no service of team {team!r} in the catalog")
    rows = read_rows(ask.conn, ask.catalog, names, _start(since, until, weeks), until)
    failed = failures(rows.deploys, rows.incidents, rows.links, until)
    answer: dict[str, Any] = {
        "team": team,
        "services": _per_service(rows, names, since, until, failed),
    }
    return {**answer, **_answer(rows, since, until, weeks, failed)}
