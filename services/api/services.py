"""``/api/v1/services`` and ``/api/v1/services/{name}``: the catalog, with what the store
knows of each service.

A service's pipelines are those the catalog maps to it, by slug, by tag or by
repository, judged against every pipeline the store has seen (so a pipeline tagged
``team-payments`` shows up without being listed by slug); its incidents are those filed
under its name or one of its PagerDuty service ids.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.api.alerts import recent_alerts
from services.api.ask import Ask
from services.api.errors import InvalidQuery, NotFound
from services.api.events import recent_deploys, recent_incidents
from services.api.pages import Json, page_of_values, plain
from services.api.params import CURSOR, LIMIT, Param
from services.api.pipelines import recent_builds
from services.api.tests import flaky_of_service
from services.catalog.model import Service
from services.store.tables import pipelines

__all__ = ["RECENT", "SERVICES_PARAMS", "SERVICE_PARAMS", "list_services", "service"]

RECENT = 10
SERVICES_PARAMS = (Param("team", "Only services of this team."), CURSOR, LIMIT)
SERVICE_PARAMS = (
    Param(
        "recent",
        f"How many recent builds, deploys, incidents, alerts (default {RECENT}).",
        "integer",
    ),
)


def _describe(service: Service) -> Json:
    return {
        "name": service.name,
        "team": service.team,
        "pipelines": sorted(service.pipelines),
        "pipeline_tags": sorted(service.pipeline_tags),
        "repositories": sorted(service.repositories),
        "deploy_pipelines": sorted(service.deploy_pipelines),
        "deploy_steps": sorted(service.deploy_steps),
        "test_suites": sorted(service.test_suites),
        "pagerduty_services": sorted(service.pagerduty_services),
        "depends_on": sorted(service.depends_on),
        "environments": sorted(service.environments),
    }


def list_services(ask: Ask) -> Json:
    q = ask.query
    team = q.text("team")
    items = [
        _describe(s)
        for _, s in sorted(ask.catalog.services.items())
        if team is None or s.team == team
    ]
    return page_of_values(items, "name", q, "services")


def _recent(ask: Ask) -> int:
    raw = ask.query.text("recent")
    if raw is None:
        return RECENT
    if not raw.isdigit() or not 0 <= int(raw) <= 100:
        raise InvalidQuery(f"recent: expected 0 to 100, got {raw!r}")
    return int(raw)


def service(ask: Ask) -> Json:
    name = ask.path_value("name")
    known = ask.catalog.services.get(name)
    if known is None:
        raise NotFound(f"no service {name!r} in the catalog")
    recent = _recent(ask)
    seen = ask.conn.execute(sa.select(pipelines).order_by(pipelines.c.slug)).all()
    mine = [
        plain(row)
        for row in seen
        if name
        in ask.catalog.services_for_pipeline(
            row.slug, row.tags if isinstance(row.tags, list) else (), row.repository
        )
    ]
    slugs = sorted({p["slug"] for p in mine} | known.pipelines | known.deploy_pipelines)
    return {
        "service": _describe(known),
        "pipelines": mine,
        "builds": recent_builds(ask.conn, slugs, recent),
        "deploys": recent_deploys(ask.conn, name, recent),
        "incidents": recent_incidents(ask.conn, ask.incident_services(name), recent),
        "alerts": recent_alerts(ask.conn, name, recent),
        "flaky_tests": flaky_of_service(ask, name, recent),
    }
