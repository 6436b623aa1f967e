"""``kitestream alerts list`` and the store side of ``kitestream flaky list``.

Both read either through a running query API (``--api URL``, bearer token from
``--token`` or ``KITESTREAM_READ_TOKEN``) or straight from the store's database
(``--database URL``; ``alerts list`` uses ``KITESTREAM_DATABASE_URL`` when neither is
given). Either way the same route handlers answer (:mod:`services.api.routes`), page by
page, until ``--limit`` items or the last page::

    CREATED               SEVERITY  KIND                     SERVICE       SUMMARY
    2026-08-01 10:00:05Z  critical  failure_deploy_incident  payments-api  Deploy abc123 …
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from schemas.alerts import AlertKind, Severity

if TYPE_CHECKING:
    from schemas.flakiness import FlakinessState
    from services.api.pages import Json
    from services.api.routes import Route

__all__ = [
    "Reader",
    "add_alerts_list",
    "add_source_arguments",
    "flaky_states",
    "read_store",
    "reader_for",
    "run_alerts_list",
    "run_flaky_list",
    "time_argument",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_SUMMARY_WIDTH = 80


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--api``, ``--token``, ``--database``: where to read history from."""
    parser.add_argument("--api", metavar="URL", help="read from this query API (http://…:8090)")
    parser.add_argument("--token", help="bearer token for --api (default: $KITESTREAM_READ_TOKEN)")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="read the store's database directly (SQLAlchemy URL, e.g. sqlite:///…)",
    )


def add_alerts_list(sub: Any) -> None:
    """Add ``list`` to the ``alerts`` command's subcommands."""
    listing = sub.add_parser(
        "list",
        help="list stored alerts, newest first",
        description=(
            "List alerts the store kept, newest first: from a query API (--api) or the "
            "store's database (--database, default $KITESTREAM_DATABASE_URL)."
        ),
        epilog="example: kitestream alerts list --api http://127.0.0.1:8090 --kind flaky_test",
    )
    add_source_arguments(listing)
    listing.add_argument("--kind", choices=get_args(AlertKind), help="only this kind")
    listing.add_argument("--service", help="only this service")
    listing.add_argument("--severity", choices=get_args(Severity), help="only this severity")
    listing.add_argument(
        "--since",
        type=time_argument,
        metavar="TIME",
        help="created at or after TIME: 2026-08-01T10:00:00Z, 2026-08-01, or how long ago "
        "(15m, 2h, 1d, 1w), as for `alerts tail`",
    )
    listing.add_argument("--until", type=time_argument, metavar="TIME", help="created before TIME")
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    listing.add_argument("--json", action="store_true", help="JSON (one array) instead of a table")


def time_argument(text: str) -> str:
    """``--since``/``--until`` as ``alerts tail`` reads them, sent as RFC 3339 UTC."""
    from datetime import UTC, datetime

    from services.dispatcher.alertfilter import parse_since

    try:
        when = parse_since(text, datetime.now(UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--since ")) from None
    return when.isoformat().replace("+00:00", "Z")


class Reader:
    """Pages of a route, from the API over HTTP or from the database in-process."""

    def __init__(
        self,
        *,
        api: str | None = None,
        token: str | None = None,
        database: str | None = None,
    ) -> None:
        self._api = api.rstrip("/") if api else None
        self._token = token
        self._database = database
        self._engine: Any = None
        self._catalog: Any = None

    def page(self, route: Route, params: Mapping[str, str], path: Mapping[str, str]) -> Json:
        if self._api is not None:
            return self._get(route, params, path)
        return self._ask(route, params, path)

    def _get(self, route: Route, params: Mapping[str, str], path: Mapping[str, str]) -> Json:
        import httpx

        from services.api.errors import ApiError

        url = f"{self._api}{route.openapi_path.format(**path)}"
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        response = httpx.get(url, params=dict(params), headers=headers, timeout=30)
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text[:200]
            raise ApiError(f"{url} answered {response.status_code}: {detail}")
        body: Json = response.json()
        return body

    def _ask(self, route: Route, params: Mapping[str, str], path: Mapping[str, str]) -> Json:
        from services.api.app import load_catalog
        from services.api.ask import Ask
        from services.api.database import read_engine
        from services.api.params import Query
        from services.api.settings import ApiSettings

        if self._engine is None:
            settings = ApiSettings()
            self._engine = read_engine(self._database or settings.database_url)
            self._catalog = load_catalog(settings)
        with self._engine.connect() as conn:
            return route.handler(Ask(conn, Query(params, route.params), path, self._catalog))

    def items(
        self, route: Route, params: Mapping[str, str], limit: int, path: Mapping[str, str] = {}
    ) -> Iterator[Json]:
        """Up to ``limit`` items, following ``next`` from page to page."""
        wanted = dict(params)
        given = 0
        while given < limit:
            wanted["limit"] = str(min(limit - given, 500))
            body = self.page(route, wanted, path)
            for item in body["items"][: limit - given]:
                given += 1
                yield item
            if not body["next"]:
                return
            wanted["cursor"] = body["next"]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def reader_for(args: argparse.Namespace) -> Reader:
    token = args.token or os.environ.get("KITESTREAM_READ_TOKEN")
    return Reader(api=args.api, token=token, database=args.database)


def read_store(args: argparse.Namespace, what: str, read: Callable[[Reader], T]) -> T | None:
    """``read(reader)`` through the store of ``args`` (``--api`` or ``--database``), the
    reader closed after; ``None``, with "cannot WHAT: why" logged, when the API, the
    database or the network fails."""
    import httpx
    from sqlalchemy.exc import SQLAlchemyError

    from services.api.errors import ApiError

    reader = reader_for(args)
    try:
        return read(reader)
    except (ApiError, httpx.HTTPError, SQLAlchemyError, OSError) as exc:
        log.error("cannot %s: %s", what, exc)
        return None
    finally:
        reader.close()


def _route(operation_id: str) -> Route:
    from services.api.routes import ROUTES

    return next(r for r in ROUTES if r.operation_id == operation_id)


def render_alerts(alerts: list[Json]) -> str:
    if not alerts:
        return "no alerts\n"
    header = ("CREATED", "SEVERITY", "KIND", "SERVICE", "SUMMARY")
    rows = [header]
    for a in alerts:
        when = str(a.get("created_at", "")).replace("T", " ")[:19]
        summary = str(a.get("summary", ""))
        if len(summary) > _SUMMARY_WIDTH:
            summary = summary[: _SUMMARY_WIDTH - 1] + "…"
        row = (when, str(a.get("severity")), str(a.get("kind")), a.get("service") or "-", summary)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in rows]  # fmt: skip
    return "\n".join(line.rstrip() for line in lines) + "\n"


def run_alerts_list(args: argparse.Namespace) -> int:
    import orjson

    params = {
        name: value
        for name in ("kind", "service", "severity", "since", "until")
        if (value := getattr(args, name)) is not None
    }
    route = _route("listAlerts")
    alerts = read_store(args, "list alerts", lambda r: list(r.items(route, params, args.limit)))
    if alerts is None:
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(alerts, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_alerts(alerts))
    return 0


def flaky_states(reader: Reader, args: argparse.Namespace) -> list[FlakinessState]:
    """``flaky list``'s states from the store, as the ``flakiness.state`` records they
    were stored from."""
    from schemas.flakiness import FlakinessState

    params = {
        name: value
        for name in ("suite", "pipeline")
        if (value := getattr(args, name, None)) is not None
    }
    route = _route("listTests" if args.all else "listFlakyTests")
    rows = reader.items(route, params, limit=1_000_000)
    return [
        FlakinessState(
            key=row["test_key"],
            kind=row["kind"],
            suite=row["suite"],
            scope=row["scope"],
            name=row["name"],
            file_name=row["file"],
            pipeline=row["pipeline"],
            step_key=row["step_key"],
            runs=row["window_runs"] or 0,
            failures=row["window_failures"] or 0,
            flips=row["window_flips"] or 0,
            score=row["score"] or 0.0,
            status=row["status"],
            episodes=row["episodes"],
            since=row["flaky_since"],
            last_evidence_at=row["last_evidence_at"],
            evidence=row["last_evidence"] or [],
            updated_at=row["state_updated_at"] or row["last_seen_at"],
        )
        for row in rows
        if row["status"] is not None
    ]


def run_flaky_list(args: argparse.Namespace) -> int:
    """``kitestream flaky list --api … | --database …``: the same output as from Kafka."""
    from services.flakiness.listing import render_json, render_table, select

    states = read_store(
        args, "list flaky tests from the store", lambda reader: flaky_states(reader, args)
    )
    if states is None:
        return 1
    chosen = select(states, suite=args.suite, pipeline=args.pipeline, everything=args.all)
    sys.stdout.write(render_json(chosen) if args.json else render_table(chosen))
    return 0
