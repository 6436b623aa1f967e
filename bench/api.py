"""Query API benchmark: latency of the flaky list and of a test's history over a year.

    .venv/bin/python -m bench.api                       # SQLite in a temporary file
    .venv/bin/python -m bench.api --database postgresql+psycopg://…/empty_db

Fills an empty store database (migrated by the store's own migrations) with a
generated year of history: ``--tests`` tests in ``--suites`` suites, one
``test_days`` rollup per test per day for ``--days`` days, 2% of the tests flagged
flaky with a piece of flaky evidence about every third day, written with bare
``executemany`` inserts (this measures the API, not the store). Then times
``--requests`` sequential requests of each kind through the API app in this process
(Starlette app, read-only engine, JSON encoding; httpx's ASGI transport instead of a
socket, so the network stack of the machine is left out):

* ``GET /api/v1/tests/flaky`` (the first page, 50 by score), and its 2nd page by cursor;
* ``GET /api/v1/tests/{key}/history`` of a random test (50 newest days with their
  evidence), and the whole year in one page (``limit=365``);
* ``GET /api/v1/tests?q=…`` (a name search across every test).

Prints p50 and p99 in milliseconds per kind. The aim is a p99 under 100 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.store import tables as t
from services.store.database import make_engine
from services.store.migrate import upgrade

FIRST_DAY = date(2026, 1, 1)


def _key(suite: int, n: int) -> str:
    return f"suite-{suite}/tests.module_{n % 97}/test_case_{n}/tests/module_{n % 97}.py"


def _days(keys: list[tuple[int, int]], days: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for day_index in range(days):
        day = FIRST_DAY + timedelta(days=day_index)
        for suite, n in keys:
            runs = rng.randint(5, 40)
            failures = 1 if rng.random() < 0.03 else 0
            yield {
                "test_key": _key(suite, n),
                "day": day,
                "suite": f"suite-{suite}",
                "scope": f"tests.module_{n % 97}",
                "name": f"test_case_{n}",
                "file": f"tests/module_{n % 97}.py",
                "runs": runs,
                "passes": runs - failures,
                "failures": failures,
                "skips": 0,
                "flaky": 0,
                "duration_count": runs,
                "duration_sum_s": runs * 0.2,
                "duration_hist": {"12": runs},
                "duration_p50_s": 0.19,
                "duration_p95_s": 0.29,
            }


def fill(engine: sa.Engine, tests: int, suites: int, days: int, seed: int = 7) -> list[str]:
    """Write the generated year; the keys of the tests, flaky ones first."""
    rng = random.Random(seed)
    keys = [(n % suites, n) for n in range(tests)]
    flaky = set(rng.sample(range(tests), max(1, tests // 50)))
    last = datetime.combine(FIRST_DAY + timedelta(days=days - 1), clock(), UTC)
    with engine.begin() as conn:
        conn.execute(
            t.tests.insert(),
            [
                {
                    "test_key": _key(suite, n),
                    "kind": "test",
                    "suite": f"suite-{suite}",
                    "scope": f"tests.module_{n % 97}",
                    "name": f"test_case_{n}",
                    "file": f"tests/module_{n % 97}.py",
                    "status": "flaky" if n in flaky else "stable",
                    "flaky_since": last - timedelta(days=n % 60) if n in flaky else None,
                    "episodes": 1 if n in flaky else 0,
                    "window_runs": 50,
                    "window_failures": 5 if n in flaky else 0,
                    "window_flips": 8 if n in flaky else 0,
                    "score": round(rng.uniform(0.2, 0.9), 3) if n in flaky else 0.0,
                    "first_seen_at": datetime.combine(FIRST_DAY, clock(), UTC),
                    "last_seen_at": last,
                    "last_evidence": [],
                }
                for suite, n in keys
            ],
        )
        batch: list[dict[str, Any]] = []
        for row in _days(keys, days, rng):
            batch.append(row)
            if len(batch) >= 20_000:
                conn.execute(t.test_days.insert(), batch)
                batch = []
        if batch:
            conn.execute(t.test_days.insert(), batch)
        evidence = [
            {
                "id": f"ev-{n}-{d}",
                "test_key": _key(n % suites, n),
                "kind": "same_commit",
                "at": datetime.combine(FIRST_DAY + timedelta(days=d), clock(10), UTC),
                "commit": f"{n:08x}{d:04x}",
                "branch": "main",
                "build_ids": [f"b-{n}-{d}"],
                "job_ids": [f"j-{n}-{d}-1", f"j-{n}-{d}-2"],
                "urls": [f"https://buildkite.com/acme/app/builds/{d}#j-{n}-{d}-1"],
                "detail": "failed, then passed on the same commit",
            }
            for n in sorted(flaky)
            for d in range(0, days, 3)
        ]
        conn.execute(t.flaky_evidence.insert(), evidence)
    flaky_keys = [_key(n % suites, n) for n in sorted(flaky)]
    return flaky_keys + [_key(s, n) for s, n in keys if n not in flaky]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    url: str, keys: list[str], requests: int, seed: int = 11
) -> dict[str, list[float]]:
    rng = random.Random(seed)
    app = create_app(ApiSettings(database_url=url), catalog=Catalog())
    timings: dict[str, list[float]] = {}

    async def timed(client: httpx.AsyncClient, kind: str, path: str, **params: Any) -> Any:
        started = time.perf_counter()
        response = await client.get(path, params=params)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        timings.setdefault(kind, []).append(elapsed * 1000)
        return response.json()

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            for _ in range(min(20, requests)):  # warm the pool and the page cache
                await client.get("/api/v1/tests/flaky")
            for _ in range(requests):
                first = await timed(client, "flaky list, page 1", "/api/v1/tests/flaky")
                if first["next"]:
                    await timed(client, "flaky list, page 2", "/api/v1/tests/flaky",
                                cursor=first["next"])  # fmt: skip
                key = rng.choice(keys[: max(1, len(keys) // 50)] if rng.random() < 0.5 else keys)
                await timed(client, "history, 50 days", f"/api/v1/tests/{key}/history")
                await timed(client, "history, 365 days", f"/api/v1/tests/{key}/history",
                            limit=365)  # fmt: skip
                await timed(client, "tests?q= search", "/api/v1/tests",
                            q=f"case_{rng.randint(0, 9999)}")  # fmt: skip
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", help="an empty database URL (default: a temp SQLite)")
    parser.add_argument("--tests", type=int, default=2000, help="tests (2000)")
    parser.add_argument("--suites", type=int, default=10, help="suites (10)")
    parser.add_argument("--days", type=int, default=365, help="days of history (365)")
    parser.add_argument("--requests", type=int, default=300, help="requests per kind (300)")
    args = parser.parse_args(argv)
    if args.tests < 50 or args.days < 1 or args.requests < 1:
        parser.error("--tests must be at least 50, --days and --requests at least 1")
    with tempfile.TemporaryDirectory(prefix="kitestream-bench-api-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'store.db'}"
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        keys = fill(engine, args.tests, args.suites, args.days)
        filled_s = time.perf_counter() - started
        with engine.connect() as conn:
            day_rows = conn.scalar(sa.select(sa.func.count()).select_from(t.test_days))
            if engine.dialect.name == "sqlite":
                # The fill is one huge write; the store commits in batches and SQLite
                # checkpoints as it goes, so readers never see a WAL of this size.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        engine.dispose()
        shown = sa.make_url(url).render_as_string(hide_password=True)
        sys.stdout.write(
            f"store: {shown}\n{args.tests} tests x {args.days} days = {day_rows:,} day rows, "
            f"{max(1, args.tests // 50)} flaky tests (filled in {filled_s:.1f} s)\n"
        )
        timings = asyncio.run(measure(url, keys, args.requests))
    sys.stdout.write(f"{'request':<22} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}\n")
    for kind, samples in timings.items():
        sys.stdout.write(
            f"{kind:<22} {len(samples):>5} {_percentile(samples, 0.5):>8.2f} "
            f"{_percentile(samples, 0.99):>8.2f} {statistics.fmean(samples):>8.2f}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
