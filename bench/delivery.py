"""Delivery metrics benchmark: the four keys of one service and of a team, against the
service page's existing read as the baseline, in the same process.

    .venv/bin/python -m bench.delivery                  # SQLite in a temporary file
    .venv/bin/python -m bench.delivery --database postgresql+psycopg://…/empty_db

Fills an empty store database (migrated by the store's migrations) with ``--services``
services of one team over ``--weeks`` weeks: per service and day ``--deploys`` deploys
(``POST /api/deploys``, each of a commit built 3 times, the first an hour or more
before), 2 incidents a day resolved after 10 min to 6 h, and a
``failure_deploy_incident`` alert for one deploy in ten; written with bare
``executemany`` inserts (this measures the reads, not the store). Then times
``--requests`` sequential requests of each kind through the API app (httpx's ASGI
transport):

* ``GET /api/v1/services/{name}`` (the baseline: what the service page read before);
* ``GET /api/v1/services/{name}/delivery`` (12 weeks, 12-week trend);
* ``GET /api/v1/teams/{team}/delivery`` (every service together, and each).

Prints p50 and p99 in milliseconds and each p50 as a ratio of the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.catalog.model import Service
from services.store import tables as t
from services.store.database import make_engine
from services.store.migrate import upgrade

UNTIL = datetime(2026, 11, 30, tzinfo=UTC)


def _fill(engine: sa.Engine, services: int, weeks: int, per_day: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    start = UNTIL - timedelta(weeks=weeks)
    deploys: list[dict[str, Any]] = []
    builds: list[dict[str, Any]] = []
    incidents: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for s in range(services):
        name = f"svc-{s}"
        for day in range(weeks * 7):
            midnight = start + timedelta(days=day)
            for n in range(per_day):
                done = midnight + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
                commit = f"{s:04x}{day:04x}{n:04x}".ljust(40, "0")
                deploy_id = f"{name}-{day}-{n}"
                deploys.append({
                    "deploy_id": deploy_id, "service": name, "environment": "production",
                    "commit": commit, "state": "succeeded", "started_at": done,
                    "finished_at": done, "source": "api", "event_id": f"ev-{deploy_id}",
                    "event_at": done,
                })  # fmt: skip
                first = done - timedelta(minutes=rng.randint(60, 5 * 24 * 60))
                for b in range(3):
                    created = first + timedelta(minutes=20 * b)
                    builds.append({
                        "id": f"{deploy_id}-b{b}", "pipeline": name, "state": "passed",
                        "branch": "main", "commit": commit, "created_at": created,
                        "event_id": f"ev-{deploy_id}-b{b}", "event_at": created,
                    })  # fmt: skip
                if rng.random() < 0.1:
                    alert_id = f"a-{deploy_id}"
                    body = {
                        "alert_id": alert_id, "kind": "failure_deploy_incident",
                        "severity": "critical", "service": name,
                        "created_at": done.isoformat(), "summary": "lined up",
                        "deploy": {"deploy_id": f"deploy:{deploy_id}", "service": name},
                        "incident": {"incident_id": f"i-{deploy_id}"},
                    }  # fmt: skip
                    alerts.append({
                        "alert_id": alert_id, "kind": "failure_deploy_incident",
                        "severity": "critical", "service": name, "subject": name,
                        "created_at": done + timedelta(minutes=30), "summary": "lined up",
                        "body": body,
                    })  # fmt: skip
            for i in range(2):
                opened = midnight + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
                incidents.append({
                    "incident_id": f"{name}-{day}-i{i}", "service": name, "title": "errors",
                    "status": "resolved", "opened_at": opened,
                    "resolved_at": opened + timedelta(minutes=rng.randint(10, 360)),
                    "source": "pagerduty", "event_id": f"ev-{name}-{day}-i{i}", "event_at": opened,
                })  # fmt: skip
    with engine.begin() as conn:
        for table, rows in ((t.deploys, deploys), (t.builds, builds), (t.incidents, incidents),
                            (t.alerts, alerts)):  # fmt: skip
            for i in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[i : i + 5000])
    return len(deploys) + len(builds) + len(incidents) + len(alerts)


async def _time(
    client: httpx.AsyncClient, path: str, params: dict[str, str], n: int
) -> list[float]:
    taken = []
    for _ in range(n):
        began = time.perf_counter()
        response = await client.get(path, params=params)
        taken.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    return taken


async def _measure(url: str, catalog: Catalog, requests: int) -> None:
    app = create_app(ApiSettings(database_url=url), catalog=catalog)
    window = {"since": (UNTIL - timedelta(weeks=12)).isoformat(), "until": UNTIL.isoformat()}
    kinds = [
        ("service (baseline)", "/api/v1/services/svc-0", {}),
        ("service delivery", "/api/v1/services/svc-0/delivery", window),
        ("team delivery", "/api/v1/teams/bench/delivery", window),
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            results = []
            for label, path, params in kinds:
                await _time(client, path, params, 2)  # warm up
                taken = sorted(await _time(client, path, params, requests))
                results.append((label, statistics.median(taken), taken[int(len(taken) * 0.99) - 1]))
    base = results[0][1]
    for label, p50, p99 in results:
        sys.stdout.write(
            f"{label:20s} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({p50 / base:.1f}x baseline p50)\n"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="an empty database URL (default: SQLite in a temp dir)")
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--deploys", type=int, default=10, help="deploys per service and day")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'store.db'}"
        engine = make_engine(url)
        upgrade(engine)
        began = time.perf_counter()
        rows = _fill(engine, args.services, args.weeks, args.deploys)
        engine.dispose()
        sys.stdout.write(f"filled {rows} rows in {time.perf_counter() - began:.1f} s\n")
        catalog = Catalog({
            f"svc-{s}": Service(name=f"svc-{s}", pipelines=frozenset({f"svc-{s}"}), team="bench")
            for s in range(args.services)
        })  # fmt: skip
        asyncio.run(_measure(url, catalog, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
