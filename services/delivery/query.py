"""The store's tables as the rows :mod:`services.delivery.keys` reads.

A service's deploys are every way kitestream sees one, as the correlator does
(:mod:`services.correlator.observer`), so that alert links name the same ids:

- ``deploys`` rows of the service in state ``succeeded`` to an environment the
  catalog counts (``deploy:<id>``), at ``finished_at`` (else ``started_at``, else when
  received);
- passed builds of its ``deploy_pipelines`` (``build:<id>``), at ``finished_at``;
- passed jobs with one of its ``deploy_steps`` in a pipeline of the service
  (``job:<id>``), at ``finished_at``.

A commit's time is the ``created_at`` of the first build of that commit in the store
(a short SHA matches by prefix): no event kitestream takes carries a commit
timestamp (Buildkite's build webhooks and ``POST /api/deploys`` have none), so every
lead time says ``first_build``. Incidents are those filed under the service's name or
its PagerDuty ids; links are the ``failure_deploy_incident`` alerts naming a deploy of
the service (or raised for a service depending on it). Nothing here writes, and no
table needs a new index: every query starts from an indexed column
(``deploys.service``, ``builds.pipeline``, ``jobs.pipeline`` + ``step_key``,
``builds.commit``, ``incidents.service``, ``alerts.service``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.catalog.catalog import Catalog
from services.delivery.records import Deploy, Incident, Link
from services.store.tables import alerts, builds, deploys, incidents, jobs, pipelines

__all__ = ["FULL_SHA", "Rows", "read_rows"]

FULL_SHA = 40
_ALERT_SLACK = timedelta(days=1)
_PASSED_JOB = sa.or_(
    jobs.c.state == "passed", sa.and_(jobs.c.state == "finished", jobs.c.exit_status == 0)
)


@dataclass(frozen=True)
class Rows:
    deploys: list[Deploy]
    incidents: list[Incident]
    links: list[Link]
    data_start: datetime | None  # the store's first build or deploy


def _when(*columns: Any) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(*columns)


def _api_deploys(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str], start: datetime, until: datetime
) -> list[Deploy]:
    at = _when(deploys.c.finished_at, deploys.c.started_at, deploys.c.event_at)
    rows = conn.execute(
        sa.select(
            deploys.c.deploy_id,
            deploys.c.service,
            deploys.c.environment,
            deploys.c.commit,
            deploys.c.url,
            deploys.c.source,
            at.label("at"),
        ).where(
            deploys.c.service.in_(names),
            deploys.c.state == "succeeded",
            at >= start,
            at < until,
        )
    ).all()
    return [
        Deploy(f"deploy:{r.deploy_id}", r.service, r.at, r.commit, url=r.url, source=r.source)
        for r in rows
        if catalog.deploy_counts(r.service, r.environment)
    ]


def _build_deploys(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str], start: datetime, until: datetime
) -> list[Deploy]:
    owners: dict[str, list[str]] = {}
    for name in names:
        known = catalog.services.get(name)
        for slug in known.deploy_pipelines if known else ():
            owners.setdefault(slug, []).append(name)
    if not owners:
        return []
    at = _when(builds.c.finished_at, builds.c.started_at, builds.c.created_at, builds.c.event_at)
    rows = conn.execute(
        sa.select(
            builds.c.id, builds.c.pipeline, builds.c.commit, builds.c.url, at.label("at")
        ).where(
            builds.c.pipeline.in_(sorted(owners)),  # slugs are lower case, as the catalog's
            builds.c.state == "passed",
            at >= start,
            at < until,
        )
    ).all()
    return [
        Deploy(f"build:{r.id}", name, r.at, r.commit, url=r.url, source="buildkite build")
        for r in rows
        for name in owners.get(r.pipeline, [])
    ]


def _pipelines_of(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str]
) -> dict[str, set[str]]:
    """Slug -> which of ``names`` it belongs to: the catalog's slugs, and every pipeline
    the store has seen that maps to them by tag or repository."""
    wanted = set(names)
    found: dict[str, set[str]] = {}
    for name in names:
        known = catalog.services.get(name)
        for slug in (known.pipelines | known.deploy_pipelines) if known else ():
            found.setdefault(slug, set()).add(name)
    for p in conn.execute(sa.select(pipelines.c.slug, pipelines.c.tags, pipelines.c.repository)):
        tags = p.tags if isinstance(p.tags, list) else ()
        mine = catalog.services_for_pipeline(p.slug, tags, p.repository) & wanted
        if mine:
            found.setdefault(p.slug, set()).update(mine)
    return found


def _job_deploys(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str], start: datetime, until: datetime
) -> list[Deploy]:
    steps = sorted({s for n in names if (k := catalog.services.get(n)) for s in k.deploy_steps})
    if not steps:
        return []
    owners = _pipelines_of(conn, catalog, names)
    at = _when(jobs.c.finished_at, jobs.c.started_at, jobs.c.event_at)
    rows = conn.execute(
        sa.select(
            jobs.c.id, jobs.c.pipeline, jobs.c.step_key, jobs.c.url, builds.c.commit, at.label("at")
        )
        .select_from(jobs.outerjoin(builds, builds.c.id == jobs.c.build_id))
        .where(
            jobs.c.pipeline.in_(sorted(owners)),
            jobs.c.step_key.in_(steps),
            _PASSED_JOB,
            at >= start,
            at < until,
        )
    ).all()
    return [
        Deploy(f"job:{r.id}", name, r.at, r.commit, url=r.url, source="buildkite job")
        for r in rows
        for name in sorted(owners.get(r.pipeline, set()))
        if catalog.is_deploy(name, pipeline=r.pipeline, step_key=r.step_key)
    ]


def _first_builds(conn: sa.Connection, commits: Iterable[str]) -> dict[str, datetime]:
    """When each commit was first built: exact SHAs in one query, short ones by prefix."""
    wanted = sorted(set(commits))
    created = _when(
        builds.c.created_at, builds.c.scheduled_at, builds.c.started_at, builds.c.event_at
    )
    found: dict[str, datetime] = {}
    full = [c for c in wanted if len(c) >= FULL_SHA]
    for i in range(0, len(full), 500):
        rows = conn.execute(
            sa.select(builds.c.commit, sa.func.min(created))
            .where(builds.c.commit.in_(full[i : i + 500]))
            .group_by(builds.c.commit)
        ).all()
        found.update({r[0]: r[1] for r in rows if r[1] is not None})
    for short in (c for c in wanted if 7 <= len(c) < FULL_SHA):
        first = conn.execute(
            sa.select(sa.func.min(created)).where(
                builds.c.commit.startswith(short, autoescape=True)
            )
        ).scalar()
        if first is not None:
            found[short] = first
    return found


def _with_commit_times(conn: sa.Connection, found: list[Deploy]) -> list[Deploy]:
    firsts = _first_builds(conn, (d.commit for d in found if d.commit))
    return [
        Deploy(
            d.deploy_id,
            d.service,
            d.finished_at,
            d.commit,
            firsts.get(d.commit) if d.commit else None,
            "first_build" if d.commit and d.commit in firsts else None,
            d.url,
            d.source,
        )
        for d in found
    ]


def _incidents(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str], start: datetime, until: datetime
) -> list[Incident]:
    filed: dict[str, list[str]] = {}
    for name in names:
        known = catalog.services.get(name)
        for value in [name, *(sorted(known.pagerduty_services) if known else [])]:
            filed.setdefault(value, []).append(name)
    rows = conn.execute(
        sa.select(incidents).where(
            incidents.c.service.in_(sorted(filed)),
            incidents.c.opened_at >= start,
            incidents.c.opened_at < until,
        )
    ).all()
    return [
        Incident(r.incident_id, r.opened_at, r.resolved_at, r.title, r.url, name)
        for r in rows
        for name in filed[r.service]
    ]


def _link(body: object, names: set[str]) -> Link | None:
    if not isinstance(body, dict):
        return None
    deploy, incident = body.get("deploy"), body.get("incident")
    if not isinstance(deploy, dict) or not isinstance(incident, dict):
        return None
    deploy_id, incident_id = deploy.get("deploy_id"), incident.get("incident_id")
    deployed = deploy.get("service") or body.get("service")
    if not (isinstance(deploy_id, str) and isinstance(incident_id, str) and deployed in names):
        return None
    links = body.get("links")
    reasons = body.get("reasons")
    rank, candidates = deploy.get("rank"), deploy.get("candidates")
    return Link(
        alert_id=str(body.get("alert_id", "")),
        deploy_id=deploy_id,
        deployed_service=str(deployed),
        incident_id=incident_id,
        summary=str(body.get("summary", "")),
        reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
        links={str(k): str(v) for k, v in links.items()} if isinstance(links, dict) else {},
        rank=rank if isinstance(rank, int) else None,
        candidates=candidates if isinstance(candidates, int) else None,
    )


def _links(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str], start: datetime
) -> list[Link]:
    """The alerts naming a deploy of ``names``: raised for the service itself or for one
    that depends on it (the correlator alerts the dependent for a dependency's deploy)."""
    alerted = set(names).union(*(catalog.dependents(n) for n in names))
    rows = conn.execute(
        sa.select(alerts.c.body).where(
            alerts.c.service.in_(sorted(alerted)),
            alerts.c.kind == "failure_deploy_incident",
            alerts.c.created_at >= start - _ALERT_SLACK,
        )
    ).all()
    wanted = set(names)
    return [link for r in rows if (link := _link(r.body, wanted)) is not None]


def _data_start(conn: sa.Connection) -> datetime | None:
    firsts = [
        conn.execute(sa.select(sa.func.min(builds.c.created_at))).scalar(),
        conn.execute(sa.select(sa.func.min(deploys.c.event_at))).scalar(),
    ]
    known = [f for f in firsts if f is not None]
    return min(known) if known else None


def read_rows(
    conn: sa.Connection, catalog: Catalog, names: Sequence[str], start: datetime, until: datetime
) -> Rows:
    """Deploys that finished, and incidents opened, in ``[start, until)`` for the services
    ``names``, with the alerts linking them."""
    found = (
        _api_deploys(conn, catalog, names, start, until)
        + _build_deploys(conn, catalog, names, start, until)
        + _job_deploys(conn, catalog, names, start, until)
    )
    return Rows(
        deploys=_with_commit_times(conn, found),
        incidents=_incidents(conn, catalog, names, start, until),
        links=_links(conn, catalog, names, start),
        data_start=_data_start(conn),
    )
