"""``kitestream dispatcher``: deliver alerts to the sinks the routes file names.

Reads ``KITESTREAM_ROUTES`` (or ``--routes``), fetches every secret it names, checks every
sink's URL, loads ``KITESTREAM_CATALOG`` for routes on ``team`` when both the variable and
the catalog package are there, then consumes ``alerts`` until SIGINT or SIGTERM, serving
Prometheus metrics on ``KITESTREAM_METRICS_PORT`` (default 9103, 0 disables).
``--check`` stops after the checks and prints the sinks and routes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from services.dispatcher.outbound import Resolver
    from services.dispatcher.routing import Router, RoutesFile
    from services.dispatcher.settings import DispatcherSettings
    from services.dispatcher.sinks import Sink

__all__ = ["add_arguments", "run", "team_lookup", "wire"]

log = logging.getLogger(__name__)

_HINTS = {"routes": "no routes file: set KITESTREAM_ROUTES or pass --routes"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--routes", metavar="FILE", help="the routes file (default: $KITESTREAM_ROUTES)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the routes file, its secrets and the sinks' URLs, print them, and exit",
    )


def team_lookup(settings: DispatcherSettings) -> Callable[[str], str | None]:
    """``Catalog.team_of`` when ``KITESTREAM_CATALOG`` is set and the catalog package is
    installed; otherwise a lookup in which no service has a team."""
    import importlib.util

    from services.dispatcher.routing import no_team

    if settings.catalog is None:
        return no_team
    if importlib.util.find_spec("services.catalog") is None:
        log.warning("KITESTREAM_CATALOG is set but the catalog package is missing")
        return no_team
    from services.catalog import CatalogError, load_catalog
    from services.dispatcher.errors import ConfigError

    try:
        return load_catalog(settings.catalog).team_of
    except CatalogError as exc:
        raise ConfigError(f"catalog {settings.catalog}:\n{exc}") from None


def wire(
    settings: DispatcherSettings,
    environ: Mapping[str, str],
    *,
    resolver: Resolver | None = None,
) -> tuple[RoutesFile, dict[str, Sink], Router]:
    """The routes, the sinks and the router, checked; ``ConfigError`` when they cannot be.

    The Kafka side (:class:`~services.dispatcher.service.Dispatcher`) is made from these
    inside the event loop.
    """
    from services.dispatcher.credentials import SecretSource
    from services.dispatcher.outbound import system_resolver
    from services.dispatcher.routing import Router, load_routes
    from services.dispatcher.sinks import build_sinks

    routes = load_routes(settings.routes)
    team_of = team_lookup(settings)
    if routes.uses_team and settings.catalog is None:
        log.warning("routes match on team, but KITESTREAM_CATALOG is not set: they match nothing")
    secrets = SecretSource(environ, settings.routes.parent)
    sinks = build_sinks(routes, settings, secrets, resolver=resolver or system_resolver)
    return routes, sinks, Router(routes.routes, team_of)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from services.common.lifecycle import run_service
    from services.common.settings import load_settings
    from services.dispatcher.errors import ConfigError
    from services.dispatcher.settings import DispatcherSettings

    given = {"routes": args.routes} if args.routes else {}
    settings = load_settings(DispatcherSettings, _HINTS, **given)
    try:
        routes, sinks, router = wire(settings, os.environ)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    if args.check:
        _describe(routes)
        asyncio.run(_close(sinks))
        return 0
    return run_service("dispatcher", lambda stop: _serve(settings, sinks, router, stop))


async def _serve(
    settings: DispatcherSettings, sinks: dict[str, Sink], router: Router, stop: asyncio.Event
) -> None:
    from services.common.metrics import serve_metrics
    from services.dispatcher.service import Dispatcher

    dispatcher = Dispatcher(settings, sinks, router)
    serve_metrics(
        dispatcher.metrics.registry, settings.metrics_port, "dispatcher", settings.metrics_host
    )
    await dispatcher.run(stop)
    log.info("dispatcher stopped")


async def _close(sinks: dict[str, Sink]) -> None:
    for sink in sinks.values():
        await sink.aclose()


def _describe(routes: RoutesFile) -> None:
    out = ["sinks:"]
    for name, sink in routes.sinks.items():
        extra = " (allow_private)" if sink.allow_private else ""
        out.append(f"  {name}: {sink.type}{extra}")
    out.append("routes:")
    for route in routes.routes:
        match = route.match.model_dump(exclude_none=True)
        what = ", ".join(f"{k}={'|'.join(v)}" for k, v in match.items()) or "every alert"
        out.append(f"  {what} -> {', '.join(route.to)}")
    sys.stdout.write("\n".join(out) + "\n")
