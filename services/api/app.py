"""``create_app(settings)``: the query API as an ASGI app (Starlette).

Each :class:`~services.api.routes.Route` becomes a ``GET`` endpoint that checks the
bearer token, reads the query parameters against the route's declaration, then runs
the route's handler on a pooled read-only connection in a worker thread (SQLAlchemy's
drivers block). Answers are JSON (orjson, times in RFC 3339 UTC with ``Z``); errors are
``{"error": code, "detail": …}`` like the receiver's.

The one write is ``POST /api/v1/quarantine`` (:mod:`services.api.changes`): it publishes
on ``tests.quarantine`` with a producer made in the lifespan, and never writes rows.
bktec's test plan API is under ``/v2/analytics`` (:mod:`services.api.testplan`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from services.api.access import ReadAccess, WriteAccess
from services.api.ask import Ask
from services.api.changes import Publisher, change_endpoint
from services.api.database import read_engine
from services.api.errors import HttpError, NotFound, StoreUnavailable
from services.api.openapi import OPENAPI_PATH, document
from services.api.pages import Json
from services.api.params import Query
from services.api.routes import ROUTES, Route
from services.api.settings import ApiSettings
from services.api.testplan import testplan_routes
from services.catalog.catalog import Catalog
from services.common.settings import SettingsError
from services.common.topics import Topics
from services.console.app import console_routes
from services.ingest.auth import SuiteTokens
from services.store.tables import alerts

__all__ = ["create_app", "json_response", "load_catalog"]

log = logging.getLogger(__name__)

_HEADERS = {"x-content-type-options": "nosniff", "cache-control": "no-store"}


def json_response(body: object, status: int = 200) -> Response:
    content = orjson.dumps(body, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
    return Response(content, status, headers=_HEADERS, media_type="application/json")


def _error(exc: HttpError) -> Response:
    return json_response(exc.to_body(), exc.status)


def load_catalog(settings: ApiSettings) -> Catalog:
    """The catalog named by ``KITESTREAM_CATALOG``, or an empty one."""
    if settings.catalog is None:
        return Catalog()
    from services.catalog.errors import CatalogError
    from services.catalog.loader import load_catalog as load

    try:
        return load(settings.catalog)
    except (CatalogError, OSError) as exc:
        raise SettingsError([f"KITESTREAM_CATALOG ({settings.catalog}): {exc}"]) from None


def _answer(
    engine: sa.Engine, route: Route, query: Query, path: Mapping[str, str], catalog: Catalog
) -> Json:
    try:
        with engine.connect() as conn:
            return route.handler(Ask(conn, query, path, catalog))
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        log.warning("cannot read the store: %s", type(exc.orig).__name__)
        raise StoreUnavailable("the store's database cannot be read (not migrated yet?)") from None


def _endpoint(
    route: Route, engine: sa.Engine, catalog: Catalog, access: ReadAccess, settings: ApiSettings
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            items = request.query_params.multi_items()
            if route.suite_scoped:
                suite = access.suite_scope(request.headers.get("authorization"))
                if suite is not None:  # a suite's token: its own suite, whatever was asked
                    items = [(k, v) for k, v in items if k != "suite"] + [("suite", suite)]
            else:
                access.check(request.headers.get("authorization"))
            query = Query(
                items,
                route.params,
                default_limit=settings.page_limit,
                max_limit=settings.max_page_limit,
            )
            body = await run_in_threadpool(
                _answer, engine, route, query, dict(request.path_params), catalog
            )
        except HttpError as exc:
            if exc.status == 401:
                log.info("refused %s: %s", route.operation_id, exc.detail)
            return _error(exc)
        return json_response(body)

    return endpoint


def create_app(
    settings: ApiSettings,
    *,
    engine: sa.Engine | None = None,
    catalog: Catalog | None = None,
) -> Starlette:
    """The query API. ``engine`` and ``catalog`` default to those the settings name (an
    engine passed in is the caller's to dispose of)."""
    own_engine = engine is None
    db = read_engine(settings.database_url) if engine is None else engine
    known = load_catalog(settings) if catalog is None else catalog
    access = ReadAccess(settings.read_tokens, SuiteTokens.from_mapping(settings.test_suites))
    publisher = Publisher(settings.bootstrap_servers, Topics(settings.topic_prefix))
    writes = WriteAccess(settings.write_tokens)
    spec = document(ROUTES)

    async def openapi(_request: Request) -> Response:
        return json_response(spec)

    async def healthz(_request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        def probe() -> None:
            with db.connect() as conn:
                conn.execute(sa.select(alerts.c.alert_id).limit(1))

        try:
            await run_in_threadpool(probe)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("not ready: %s", type(exc).__name__)
            return json_response({"status": "store not readable"}, 503)
        return json_response({"status": "ready"})

    async def http_error(_request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return _error(NotFound("no such path; see /openapi.json"))
        if status == 405:
            detail = "the query API answers GET, and POST on /api/v1/quarantine only"
            return json_response({"error": "method_not_allowed", "detail": detail}, 405)
        return json_response({"error": "internal", "detail": "internal error"}, status)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        log.info(
            "query API on %s (%s, %d services in the catalog)",
            db.url.render_as_string(hide_password=True),
            "open" if access.open else "bearer tokens required",
            len(known.services),
        )
        # Kafka is only for quarantine changes: reads do not wait for it at start
        starting = asyncio.create_task(publisher.try_start()) if writes.enabled else None
        try:
            yield
        finally:
            if starting is not None:  # let a start under way finish (it closes its clients)
                await asyncio.wait({starting}, timeout=5)
                starting.cancel()
                await asyncio.wait({starting})  # its own cancellation is not raised here
            await publisher.stop()
            if own_engine:
                db.dispose()

    routes: list[Any] = [
        StarletteRoute(r.path, _endpoint(r, db, known, access, settings), methods=["GET"])
        for r in ROUTES
    ]
    routes += [
        StarletteRoute(
            "/api/v1/quarantine",
            change_endpoint(db, writes, publisher, json_response),
            methods=["POST"],
        ),
        StarletteRoute(OPENAPI_PATH, openapi, methods=["GET"]),
        StarletteRoute("/healthz", healthz, methods=["GET"]),
        StarletteRoute("/readyz", readyz, methods=["GET"]),
    ]
    routes += testplan_routes(db, access, json_response)  # bktec (services/api/testplan.py)
    routes += console_routes(
        db, known, access, writes, publisher
    )  # the console's pages at / (services/console)
    return Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
