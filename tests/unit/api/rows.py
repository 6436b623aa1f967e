"""Rows for the store's tables, written directly (the unit tests of the query API need
no store process): each helper fills the NOT NULL columns with plain defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.store import tables as t
from services.store.database import make_engine
from services.store.migrate import upgrade

__all__ = [
    "T0",
    "add_alert",
    "add_build",
    "add_day",
    "add_delivery",
    "add_deploy",
    "add_evidence",
    "add_incident",
    "add_pipeline",
    "add_test",
    "store_engine",
]

T0 = datetime(2026, 8, 1, 10, 0, tzinfo=UTC)


def store_engine(path: str, *, migrate: bool = True) -> sa.Engine:
    """A SQLite file with the store's tables: made by the store's migrations, or (quicker,
    for tests that make many databases) straight from its table definitions."""
    engine = make_engine(f"sqlite:///{path}")
    if migrate:
        upgrade(engine)
    else:
        t.metadata.create_all(engine)
    return engine


def _insert(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    conn.execute(table.insert().values(**values))
    return values


def add_pipeline(conn: sa.Connection, slug: str, **kw: Any) -> dict[str, Any]:
    return _insert(conn, t.pipelines, {"slug": slug, "tags": [], "last_seen_at": T0, **kw})


def add_build(conn: sa.Connection, build_id: str, pipeline: str, **kw: Any) -> dict[str, Any]:
    values = {
        "id": build_id,
        "pipeline": pipeline,
        "state": "passed",
        "branch": "main",
        "created_at": T0,
        "event_id": f"ev-{build_id}",
        "event_at": T0,
        **kw,
    }
    return _insert(conn, t.builds, values)


def add_test(conn: sa.Connection, key: str, **kw: Any) -> dict[str, Any]:
    suite, _, rest = key.partition("/")
    scope, _, name = rest.partition("/")
    values = {
        "test_key": key,
        "kind": "test",
        "suite": suite,
        "scope": scope,
        "name": name,
        "episodes": 0,
        "last_evidence": [],
        "status": "stable",
        **kw,
    }
    return _insert(conn, t.tests, values)


def add_day(conn: sa.Connection, key: str, day: date, **kw: Any) -> dict[str, Any]:
    suite, _, rest = key.partition("/")
    scope, _, name = rest.partition("/")
    values = {
        "test_key": key,
        "day": day,
        "suite": suite,
        "scope": scope,
        "name": name,
        "runs": 10,
        "passes": 9,
        "failures": 1,
        "skips": 0,
        "flaky": 0,
        "duration_count": 10,
        "duration_sum_s": 1.0,
        "duration_hist": {"3": 10},
        "duration_p50_s": 0.1,
        "duration_p95_s": 0.2,
        **kw,
    }
    return _insert(conn, t.test_days, values)


def add_evidence(
    conn: sa.Connection, evidence_id: str, key: str, at: datetime, **kw: Any
) -> dict[str, Any]:
    values = {
        "id": evidence_id,
        "test_key": key,
        "kind": "same_commit",
        "at": at,
        "commit": "abc123",
        "build_ids": ["b1"],
        "job_ids": ["j1", "j2"],
        "urls": ["https://buildkite.com/acme/app/builds/1#j1"],
        "detail": "failed then passed on abc123",
        **kw,
    }
    return _insert(conn, t.flaky_evidence, values)


def add_alert(
    conn: sa.Connection,
    alert_id: str,
    *,
    created_at: datetime = T0,
    kind: str = "failure_deploy_incident",
    severity: str = "critical",
    service: str | None = "payments-api",
    subject: str | None = None,
    summary: str = "something lined up",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "alert_id": alert_id,
        "kind": kind,
        "severity": severity,
        "service": service,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "summary": summary,
        "failure": {},
        "deploy": {},
        "incident": {},
        "test": {},
        "reasons": [],
        "links": {},
    }
    values = {
        "alert_id": alert_id,
        "kind": kind,
        "severity": severity,
        "service": service,
        "subject": subject if subject is not None else service,
        "created_at": created_at,
        "summary": summary,
        "body": body,
    }
    _insert(conn, t.alerts, values)
    return body


def add_delivery(conn: sa.Connection, alert_id: str, sink: str, **kw: Any) -> dict[str, Any]:
    values = {
        "alert_id": alert_id,
        "sink": sink,
        "outcome": "delivered",
        "attempts": 1,
        "at": T0,
        "kind": "failure_deploy_incident",
        "created_at": T0,
        "note": "",
        **kw,
    }
    return _insert(conn, t.deliveries, values)


def add_deploy(conn: sa.Connection, deploy_id: str, service: str, **kw: Any) -> dict[str, Any]:
    values = {
        "deploy_id": deploy_id,
        "service": service,
        "environment": "production",
        "state": "succeeded",
        "started_at": T0,
        "source": "api",
        "event_id": f"ev-{deploy_id}",
        "event_at": T0,
        **kw,
    }
    return _insert(conn, t.deploys, values)


def add_incident(conn: sa.Connection, incident_id: str, service: str, **kw: Any) -> dict[str, Any]:
    values = {
        "incident_id": incident_id,
        "service": service,
        "title": "Checkout errors",
        "status": "triggered",
        "opened_at": T0,
        "source": "pagerduty",
        "event_id": f"ev-{incident_id}",
        "event_at": T0,
        **kw,
    }
    return _insert(conn, t.incidents, values)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
