"""Buildkite test engine's plan API under ``/v2/analytics``, for ``bktec run``.

Point ``bktec`` at the query API (``BUILDKITE_TEST_ENGINE_BASE_URL=http://…:8090``,
``BUILDKITE_TEST_ENGINE_API_ACCESS_TOKEN`` = the suite's token or a read token) and
its plans leave out the suite's skipped tests and list its muted ones
(:mod:`services.quarantine.testplan`). Paths, as bktec calls them
(``{org}`` is accepted whatever it is)::

    GET  /v2/analytics/organizations/{org}/suites/{suite}/test_plan   404: no cached plan
    POST /v2/analytics/organizations/{org}/suites/{suite}/test_plan   a new plan
    POST /v2/analytics/organizations/{org}/suites/{suite}/test_plan/filter_tests
    POST /v2/analytics/organizations/{org}/suites/{suite}/test_plan_metadata   ignored
    GET  /v2/analytics/organizations/{org}/suites/{suite}

Errors carry bktec's ``message`` besides kitestream's ``error`` and ``detail``; none
is a 5xx on purpose (bktec retries those for two minutes).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.api.access import ReadAccess
from services.api.body import json_body
from services.api.errors import (
    Forbidden,
    HttpError,
    NotFound,
    StoreUnavailable,
)
from services.api.quarantine import quarantined
from services.quarantine.client import Quarantined
from services.quarantine.testplan import (
    Durations,
    FilterRequest,
    PlanRequest,
    build_plan,
    files_to_split,
)
from services.store.tables import test_days

__all__ = ["testplan_routes"]

log = logging.getLogger(__name__)

BASE = "/v2/analytics/organizations/{org}/suites/{suite}"
MAX_BODY = 16 * 1024 * 1024  # a plan request lists every test file or example
DURATION_DAYS = 14

Answer = Callable[[Any, int], Response]
T = TypeVar("T")


def _error(exc: HttpError) -> dict[str, str]:
    return {"message": exc.detail, **exc.to_body()}


def _quarantined(engine: sa.Engine, suite: str) -> list[Quarantined]:
    return _read(engine, lambda conn: [Quarantined.of(row) for row in
                                       quarantined(conn, suite, datetime.now(UTC))])  # fmt: skip


def _read(engine: sa.Engine, question: Callable[[sa.Connection], T]) -> T:
    try:
        with engine.connect() as conn:
            return question(conn)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        log.warning("cannot read the store: %s", type(exc.orig).__name__)
        raise StoreUnavailable("the store's database cannot be read") from None


def _durations(conn: sa.Connection, suite: str, today: date) -> Durations:
    """Mean duration per test of ``suite`` over the last :data:`DURATION_DAYS` days."""
    d = test_days.c
    rows = conn.execute(
        sa.select(d.scope, d.name, d.file,
                  (sa.func.sum(d.duration_sum_s) / sa.func.sum(d.duration_count)).label("mean"))
        .where(d.suite == suite, d.day >= today - timedelta(days=DURATION_DAYS),
               d.duration_count > 0)
        .group_by(d.test_key, d.scope, d.name, d.file)
    ).all()  # fmt: skip
    return Durations.of((r.scope, r.name, r.file, float(r.mean)) for r in rows)


def testplan_routes(engine: sa.Engine, access: ReadAccess, answer: Answer) -> list[Route]:
    """The ``/v2/analytics`` routes bktec calls."""

    def guarded(
        handle: Callable[[Request, str], Awaitable[Any]], status: int = 200
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            suite = request.path_params["suite"]
            try:
                scope = access.suite_scope(request.headers.get("authorization"))
                if scope is not None and scope != suite:
                    raise Forbidden(f"this token belongs to suite {scope!r}, not {suite!r}")
                body = await handle(request, suite)
            except HttpError as exc:
                if exc.status in (401, 403):
                    log.info("test plan refused: %s", exc.detail)
                return answer(_error(exc), exc.status)
            return answer(body, status)

        return endpoint

    async def cached(_request: Request, suite: str) -> Any:
        raise NotFound(f"no cached test plan for {suite}: create one")

    async def create(request: Request, suite: str) -> Any:
        asked = json_body(await request.body() or b"{}", PlanRequest, limit=MAX_BODY)
        found = await run_in_threadpool(_quarantined, engine, suite)
        today = datetime.now(UTC).date()
        durations = await run_in_threadpool(
            _read, engine, lambda conn: _durations(conn, suite, today)
        )
        plan = build_plan(asked, found, durations)
        log.info(
            "test plan for %s: %d nodes, %d muted, %d skipped",
            suite,
            plan["parallelism"],
            sum(q.state == "muted" for q in found),
            sum(q.state == "skipped" for q in found),
        )
        return plan

    async def filter_tests(request: Request, suite: str) -> Any:
        asked = json_body(await request.body() or b"{}", FilterRequest, limit=MAX_BODY)
        found = await run_in_threadpool(_quarantined, engine, suite)
        skipped = [q for q in found if q.state == "skipped"]
        files = files_to_split([f.path for f in asked.files], skipped) if skipped else []
        return {"tests": [{"path": path} for path in files]}

    async def metadata(_request: Request, _suite: str) -> Any:
        return {}

    async def suite_info(request: Request, suite: str) -> Any:
        return {"id": suite, "organization_id": request.path_params["org"]}

    return [
        Route(f"{BASE}/test_plan", guarded(cached), methods=["GET"]),
        Route(f"{BASE}/test_plan", guarded(create), methods=["POST"]),
        Route(f"{BASE}/test_plan/filter_tests", guarded(filter_tests), methods=["POST"]),
        Route(f"{BASE}/test_plan_metadata", guarded(metadata), methods=["POST"]),
        Route(BASE, guarded(suite_info), methods=["GET"]),
    ]
