"""``/api/v1/deploys`` and ``/api/v1/incidents``: the latest state of each, newest first.

Deploys are keyed by the service name as sent. Incidents carry the service as their
source named it (PagerDuty: its service id); ``service=`` takes a catalog name and also
matches the PagerDuty ids the catalog maps to it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.api.ask import Ask
from services.api.cursor import Key, Order
from services.api.pages import Json, page, plain
from services.api.params import CURSOR, LIMIT, Param
from services.store.tables import deploys, incidents

__all__ = [
    "DEPLOY_PARAMS",
    "INCIDENT_PARAMS",
    "list_deploys",
    "list_incidents",
    "recent_deploys",
    "recent_incidents",
]

STATUSES = ("triggered", "acknowledged", "resolved")
DEPLOY_PARAMS = (
    Param("service", "Only deploys of this service."),
    Param("environment", "Only deploys to this environment."),
    Param("state", "Only deploys in this state (started, succeeded, failed, …)."),
    Param("commit", "Only deploys of this commit."),
    Param("since", "Started at or after this time.", "time"),
    Param("until", "Started before this time.", "time"),
    CURSOR,
    LIMIT,
)
INCIDENT_PARAMS = (
    Param("service", "Only incidents of this service (catalog name or PagerDuty id)."),
    Param("status", "Only incidents in this status.", choices=STATUSES),
    Param("urgency", "Only incidents of this urgency (high, low)."),
    Param("since", "Opened at or after this time.", "time"),
    Param("until", "Opened before this time.", "time"),
    CURSOR,
    LIMIT,
)

# When a deploy happened: its start, else its end, else when it was received.
deploy_time: sa.ColumnElement[Any] = sa.func.coalesce(
    deploys.c.started_at, deploys.c.finished_at, deploys.c.event_at
)
DEPLOY_ORDER = Order(Key(deploy_time, descending=True), Key(deploys.c.deploy_id, descending=True))
INCIDENT_ORDER = Order(
    Key(incidents.c.opened_at, descending=True), Key(incidents.c.incident_id, descending=True)
)


def list_deploys(ask: Ask) -> Json:
    q = ask.query
    select = sa.select(deploys)
    if service := q.text("service"):
        select = select.where(deploys.c.service == service)
    if environment := q.text("environment"):
        select = select.where(deploys.c.environment == environment)
    if state := q.text("state"):
        select = select.where(deploys.c.state == state)
    if commit := q.text("commit"):
        select = select.where(deploys.c.commit == commit)
    if since := q.time("since"):
        select = select.where(deploy_time >= since)
    if until := q.time("until"):
        select = select.where(deploy_time < until)
    return page(ask.conn, select, DEPLOY_ORDER, q, "deploys")


def list_incidents(ask: Ask) -> Json:
    q = ask.query
    select = sa.select(incidents)
    if service := q.text("service"):
        select = select.where(incidents.c.service.in_(ask.incident_services(service)))
    if status := q.choice("status", STATUSES):
        select = select.where(incidents.c.status == status)
    if urgency := q.text("urgency"):
        select = select.where(incidents.c.urgency == urgency)
    if since := q.time("since"):
        select = select.where(incidents.c.opened_at >= since)
    if until := q.time("until"):
        select = select.where(incidents.c.opened_at < until)
    return page(ask.conn, select, INCIDENT_ORDER, q, "incidents")


def recent_deploys(conn: sa.Connection, service: str, limit: int) -> list[Json]:
    rows = conn.execute(
        sa.select(deploys)
        .where(deploys.c.service == service)
        .order_by(*DEPLOY_ORDER.order_by())
        .limit(limit)
    ).all()
    return [plain(r) for r in rows]


def recent_incidents(conn: sa.Connection, services: list[str], limit: int) -> list[Json]:
    rows = conn.execute(
        sa.select(incidents)
        .where(incidents.c.service.in_(services))
        .order_by(*INCIDENT_ORDER.order_by())
        .limit(limit)
    ).all()
    return [plain(r) for r in rows]
