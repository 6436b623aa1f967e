"""Sinks built the way the dispatcher builds them (a worker to run them is in
``tests.unit.dispatcher.workers``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.dispatcher.credentials import SecretSource
from services.dispatcher.outbound import Resolver, system_resolver
from services.dispatcher.routing import parse_routes
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.sinks import Sink, build_sinks

__all__ = ["make_sink"]


def make_sink(
    config: dict[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    dev_mode: bool = False,
    resolver: Resolver = system_resolver,
    slack_interval_s: float = 0.0,
    sink_concurrency: int = 16,
) -> Sink:
    """One sink named ``sink`` from its routes-file mapping."""
    routes = parse_routes({"sinks": {"sink": config}, "routes": [{"to": ["sink"]}]})
    settings = DispatcherSettings(
        routes=Path("routes.yaml"),
        dev_mode=dev_mode,
        slack_interval_s=slack_interval_s,
        sink_concurrency=sink_concurrency,
        connect_timeout_s=2,
        read_timeout_s=5,
    )
    secrets = SecretSource(environ or {}, Path.cwd())
    return build_sinks(routes, settings, secrets, resolver=resolver)["sink"]
