"""``/api/v1/alerts`` and ``/api/v1/alerts/{id}``: alerts as on the ``alerts`` topic.

Items are the alerts themselves (the contract's alert JSON, kept whole by the store),
newest first; one alert answers with the deliveries the dispatcher recorded for it.
"""

from __future__ import annotations

from typing import get_args

import sqlalchemy as sa

from schemas.alerts import AlertKind, Severity
from services.api.ask import Ask
from services.api.cursor import AnyRow, Key, Order
from services.api.errors import NotFound
from services.api.pages import Json, page, plain
from services.api.params import CURSOR, LIMIT, Param
from services.store.tables import alerts, deliveries

__all__ = ["ALERT_PARAMS", "alert", "list_alerts", "recent_alerts"]

KINDS: tuple[str, ...] = get_args(AlertKind)
SEVERITIES: tuple[str, ...] = get_args(Severity)

ALERT_PARAMS = (
    Param("kind", "Only alerts of this kind.", choices=KINDS),
    Param("service", "Only alerts of this service."),
    Param("severity", "Only alerts of this severity.", choices=SEVERITIES),
    Param("subject", "Only alerts with this Kafka key (a service, or a test key)."),
    Param("since", "Created at or after this time.", "time"),
    Param("until", "Created before this time.", "time"),
    CURSOR,
    LIMIT,
)

ORDER = Order(Key(alerts.c.created_at, descending=True), Key(alerts.c.alert_id, descending=True))


def _body(row: AnyRow) -> Json:
    body = row._mapping["body"]
    return dict(body) if isinstance(body, dict) else {"alert_id": row._mapping["alert_id"]}


def list_alerts(ask: Ask) -> Json:
    q = ask.query
    select = sa.select(alerts.c.body, alerts.c.alert_id)
    if kind := q.choice("kind", KINDS):
        select = select.where(alerts.c.kind == kind)
    if service := q.text("service"):
        select = select.where(alerts.c.service == service)
    if severity := q.choice("severity", SEVERITIES):
        select = select.where(alerts.c.severity == severity)
    if subject := q.text("subject"):
        select = select.where(alerts.c.subject == subject)
    if since := q.time("since"):
        select = select.where(alerts.c.created_at >= since)
    if until := q.time("until"):
        select = select.where(alerts.c.created_at < until)
    return page(ask.conn, select, ORDER, q, "alerts", render=_body)


def alert(ask: Ask) -> Json:
    """One alert with ``deliveries``: what each sink made of it."""
    alert_id = ask.path_value("alert_id")
    row = ask.conn.execute(
        sa.select(alerts.c.body, alerts.c.alert_id).where(alerts.c.alert_id == alert_id)
    ).first()
    if row is None:
        raise NotFound(f"no alert {alert_id!r} in the store")
    sent = ask.conn.execute(
        sa.select(
            deliveries.c.sink,
            deliveries.c.outcome,
            deliveries.c.attempts,
            deliveries.c.at,
            deliveries.c.note,
        )
        .where(deliveries.c.alert_id == alert_id)
        .order_by(deliveries.c.sink)
    ).all()
    return {**_body(row), "deliveries": [plain(r) for r in sent]}


def recent_alerts(conn: sa.Connection, service: str, limit: int) -> list[Json]:
    rows = conn.execute(
        sa.select(alerts.c.body, alerts.c.alert_id)
        .where(alerts.c.service == service)
        .order_by(*ORDER.order_by())
        .limit(limit)
    ).all()
    return [_body(r) for r in rows]
