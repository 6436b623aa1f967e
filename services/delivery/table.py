"""``kitestream delivery``'s table, from the API's answer (pure: JSON in, text out)::

payments-api (team payments), 2026-11-02 00:00 to 2026-11-30 00:00 UTC

KEY                    VALUE                                 TIER    HOW
deployment frequency   1.0 a week (4 deploys on 3 days)      medium  Four Keys: monthly
lead time for changes  2h00m (median of 3 deploys)           elite   commit time: first build 3
change failure rate    50% (2 of 4 deploys)                  low
time to restore        2h15m (median of 2 incidents)         high
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["count", "duration", "render"]

Json = Mapping[str, Any]


def duration(seconds: float | None) -> str:
    """``45m``, ``2h15m``, ``3.5d``; ``-`` for nothing measured."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{seconds / 86400:.1f}d"


def count(n: int, word: str) -> str:
    """``1 deploy``, ``3 deploys``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _keys_rows(body: Json) -> list[list[str]]:
    f, lead = body["deployment_frequency"], body["lead_time"]
    cfr, restore = body["change_failure_rate"], body["time_to_restore"]
    sources = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in lead["commit_time_from"].items())
    return [
        ["KEY", "VALUE", "TIER", "HOW"],
        [
            "deployment frequency",
            f"{f['per_week']:.1f} a week ({count(f['deploys'], 'deploy')} on "
            f"{count(f['deploy_days'], 'day')})",
            f["tier"] or "-",
            f"Four Keys: {f['four_keys_bucket'] or '-'}",
        ],
        [
            "lead time for changes",
            f"{duration(lead['median_s'])} (median of {count(lead['measured'], 'deploy')})",
            lead["tier"] or "-",
            f"commit time: {sources}" if sources else "",
        ],
        [
            "change failure rate",
            f"{_pct(cfr['rate'])} ({cfr['failed']} of {count(cfr['deploys'], 'deploy')})",
            cfr["tier"] or "-",
            "",
        ],
        [
            "time to restore",
            f"{duration(restore['median_s'])} (median of "
            f"{count(restore['incidents'] - restore['unresolved'], 'resolved incident')}"
            + (f", {restore['unresolved']} open)" if restore["unresolved"] else ")"),
            restore["tier"] or "-",
            "",
        ],
    ]


def _failed_rows(body: Json) -> list[str]:
    failed = body["change_failure_rate"].get("failed_deploys") or []
    if not failed:
        return []
    rows = [["FAILED DEPLOY", "FINISHED", "WHY", "INCIDENTS", "ALERT"]]
    for d in failed:
        alerts = d["alerts"]
        why = "alert" if d["failed_by"] == "alert" else "latest deploy before the incident"
        rows.append([
            d["deploy_id"],
            str(d["finished_at"]).replace("T", " ")[:16],
            why,
            ", ".join(d["incident_ids"]),
            ", ".join(a["alert_id"] for a in alerts) or "-",
        ])  # fmt: skip
    return ["", *_columns(rows)]


def _weekly_rows(body: Json) -> list[str]:
    rows = [["WEEK OF", "DEPLOYS", "FAILED", "CFR", "LEAD TIME", "RESTORE"]]
    for w in body["weekly"]:
        rows.append([
            w["week"], str(w["deploys"]), str(w["failed"]), _pct(w["change_failure_rate"]),
            duration(w["lead_time_s"]), duration(w["time_to_restore_s"]),
        ])  # fmt: skip
    return ["", *_columns(rows)]


def _with_tier(value: str, tier: str | None) -> str:
    return value if tier is None else f"{value} {tier}"


def _services_rows(body: Json) -> list[str]:
    services = body.get("services")
    if not isinstance(services, list):
        return []
    rows = [["SERVICE", "DEPLOYS", "FREQUENCY", "LEAD TIME", "CFR", "RESTORE"]]
    for s in services:
        f, cfr = s["deployment_frequency"], s["change_failure_rate"]
        lead, restore = s["lead_time"], s["time_to_restore"]
        rows.append([
            s["service"], str(f["deploys"]), f["tier"] or "-",
            _with_tier(duration(lead["median_s"]), lead["tier"]),
            _with_tier(_pct(cfr["rate"]), cfr["tier"]),
            _with_tier(duration(restore["median_s"]), restore["tier"]),
        ])  # fmt: skip
    return ["", *_columns(rows)]


def render(body: Json) -> str:
    """The answer of ``getServiceDelivery`` or ``getTeamDelivery`` as text."""
    since = str(body["since"]).replace("T", " ")[:16]
    until = str(body["until"]).replace("T", " ")[:16]
    if "service" in body:
        who = body["service"] + (f" (team {body['team']})" if body.get("team") else "")
    else:
        who = f"team {body['team']}"
    lines = [f"{who}, {since} to {until} UTC", "", *_columns(_keys_rows(body))]
    lines += [f"note: {n}" for n in body.get("notes", [])]
    lines += _failed_rows(body) + _services_rows(body) + _weekly_rows(body)
    return "\n".join(lines) + "\n"
