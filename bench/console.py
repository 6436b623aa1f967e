"""Console benchmark: render time of its pages over a generated year of history.

    .venv/bin/python -m bench.console                     # SQLite in a temporary file
    .venv/bin/python -m bench.console --database postgresql+psycopg://…/empty_db

Fills an empty store database with the query API benchmark's year (``bench.api.fill``:
``--tests`` tests, one ``test_days`` rollup per test per day, 2% flaky with evidence
every third day), plus a flag episode per flaky test and ``--alerts`` alerts spread
over the year. Then times ``--requests`` sequential renders of each page through the
API app in this process (httpx's ASGI transport, no socket): the overview, the flaky
tests (by score, and sorted by name), a test's page (60 days, two charts, evidence,
episodes), the alert feed and one alert's timeline.

Prints p50 and p99 in milliseconds per page. The aim is a p99 under 100 ms on SQLite.
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
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.store import tables as t
from services.store.database import make_engine
from services.store.migrate import upgrade

try:
    from bench.api import FIRST_DAY, fill
except ModuleNotFoundError:  # `python bench/console.py` (make bench): bench/ is sys.path[0]
    from api import FIRST_DAY, fill  # type: ignore[import-not-found,no-redef]


def _alert(n: int, at: datetime) -> dict[str, Any]:
    body = {
        "alert_id": f"alert-{n}",
        "kind": "failure_deploy_incident",
        "severity": "critical",
        "service": f"service-{n % 20}",
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "summary": f"incident {n} opened 20 min after deploy {n}",
        "deploy": {"deploy_id": f"d{n}", "at": (at - timedelta(minutes=22)).isoformat()},
        "failure": {"title": f"build {n} failed", "at": (at - timedelta(minutes=10)).isoformat()},
        "incident": {
            "title": f"incident {n}",
            "opened_at": (at - timedelta(minutes=2)).isoformat(),
        },
        "test": {},
        "reasons": ["same service", "same commit"],
        "links": {},
        "score": 0.9,
    }
    return {
        "alert_id": body["alert_id"],
        "kind": body["kind"],
        "severity": body["severity"],
        "service": body["service"],
        "subject": body["service"],
        "created_at": at,
        "summary": body["summary"],
        "body": body,
    }


def add_alerts_and_episodes(engine: sa.Engine, flaky: list[str], alerts: int, days: int) -> None:
    start = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
    step = timedelta(days=days) / max(alerts, 1)
    with engine.begin() as conn:
        conn.execute(t.alerts.insert(), [_alert(n, start + step * n) for n in range(alerts)])
        conn.execute(
            t.deliveries.insert(),
            [
                {
                    "alert_id": f"alert-{n}",
                    "sink": "slack",
                    "outcome": "delivered",
                    "attempts": 1,
                    "at": start + step * n + timedelta(seconds=2),
                    "kind": "failure_deploy_incident",
                    "created_at": start + step * n,
                    "subject": f"service-{n % 20}",
                    "note": "",
                }
                for n in range(alerts)
            ],
        )
        conn.execute(
            t.flaky_episodes.insert(),
            [
                {"test_key": key, "flagged_at": start + timedelta(days=i % days)}
                for i, key in enumerate(flaky)
            ],
        )


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(url: str, keys: list[str], alerts: int, requests: int) -> dict[str, list[float]]:
    rng = random.Random(13)
    app = create_app(ApiSettings(database_url=url), catalog=Catalog())
    timings: dict[str, list[float]] = {}

    async def timed(client: httpx.AsyncClient, page: str, path: str) -> None:
        started = time.perf_counter()
        response = await client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        timings.setdefault(page, []).append(elapsed * 1000)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            for _ in range(min(10, requests)):  # warm the pool and the page cache
                await client.get("/flaky")
            for _ in range(requests):
                await timed(client, "overview /", "/")
                await timed(client, "flaky tests", "/flaky")
                await timed(client, "flaky, by name", "/flaky?sort=name&dir=asc")
                key = rng.choice(keys[: max(1, len(keys) // 50)] if rng.random() < 0.5 else keys)
                await timed(client, "a test", f"/tests/{quote(key, safe='')}")
                await timed(client, "alerts feed", "/alerts")
                await timed(client, "an alert", f"/alerts/alert-{rng.randrange(max(alerts, 1))}")
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", help="an empty database URL (default: a temp SQLite)")
    parser.add_argument("--tests", type=int, default=2000, help="tests (2000)")
    parser.add_argument("--suites", type=int, default=10, help="suites (10)")
    parser.add_argument("--days", type=int, default=365, help="days of history (365)")
    parser.add_argument("--alerts", type=int, default=5000, help="alerts over the year (5000)")
    parser.add_argument("--requests", type=int, default=200, help="renders per page (200)")
    args = parser.parse_args(argv)
    if args.tests < 50 or args.days < 1 or args.requests < 1 or args.alerts < 1:
        parser.error("--tests must be at least 50; --days, --alerts, --requests at least 1")
    with tempfile.TemporaryDirectory(prefix="kitestream-bench-console-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'store.db'}"
        engine = make_engine(url)
        upgrade(engine)
        keys = fill(engine, args.tests, args.suites, args.days)
        add_alerts_and_episodes(engine, keys[: max(1, args.tests // 50)], args.alerts, args.days)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        engine.dispose()
        shown = sa.make_url(url).render_as_string(hide_password=True)
        sys.stdout.write(
            f"store: {shown}\n{args.tests} tests x {args.days} days, "
            f"{max(1, args.tests // 50)} flaky, {args.alerts} alerts\n"
        )
        timings = asyncio.run(measure(url, keys, args.alerts, args.requests))
    sys.stdout.write(f"{'page':<16} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}\n")
    for page, samples in timings.items():
        sys.stdout.write(
            f"{page:<16} {len(samples):>5} {_percentile(samples, 0.5):>8.2f} "
            f"{_percentile(samples, 0.99):>8.2f} {statistics.fmean(samples):>8.2f}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
