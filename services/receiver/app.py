"""``create_app(settings)``: the receiver as an ASGI app.

The lifespan opens the spool (:func:`open_spool` unless given: with several workers,
each its own, see :mod:`~services.receiver.workers`), takes over the records of spools
no worker owns any more (:func:`~services.receiver.workers.adopt_leftovers`), starts the one Kafka
producer of the process (:func:`producer_link` unless given) and the spool drainer
(:class:`~services.receiver.delivery.Delivery`), and on shutdown drains what Kafka
takes in time, flushes and closes. Other makers run the same app without a broker
(the unit tests of its refusals). Routes, ``/openapi.json`` included, are assembled
by :func:`services.receiver.routes.routes` from a list of
:class:`~services.receiver.endpoints.Endpoint` (``routes.ENDPOINTS`` unless given);
endpoints with a ``direct`` handler (the Buildkite webhook) are answered before
starlette's stack by :class:`~services.receiver.direct.DirectRoutes`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.common.topics import Topics
from services.ingest.errors import Unavailable
from services.receiver import routes
from services.receiver.delivery import Delivery, KafkaLink
from services.receiver.direct import DirectRoutes, internal_error
from services.receiver.endpoints import AppContext, Endpoint
from services.receiver.errors import SpoolError
from services.receiver.metrics import Metrics, MetricsMiddleware, forget_dead_workers
from services.receiver.producer import ProducerLink
from services.receiver.responses import error_response
from services.receiver.settings import ReceiverSettings
from services.receiver.spool import Spool
from services.receiver.workers import adopt_leftovers, leftover_dirs, open_worker_spool

__all__ = ["ReceiverApp", "create_app", "open_spool", "producer_link"]

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def open_spool(settings: ReceiverSettings) -> Spool:
    """The spool in ``settings.spool_dir`` (locked for this process until closed), or
    with ``receiver_workers`` above 1 the first free worker slot in it."""
    return open_worker_spool(settings)


def producer_link(settings: ReceiverSettings, metrics: Metrics) -> ProducerLink:
    """The Kafka producer of ``settings``, counting its replacements in ``metrics``."""
    return ProducerLink(
        settings.bootstrap_servers,
        linger_ms=settings.linger_ms,
        batch_bytes=settings.kafka_batch_bytes,
        on_replace=lambda _reason: metrics.producer_replacements.inc(),
    )


class ReceiverApp(Starlette):
    """Starlette, with the direct routes answered before its middleware and router."""

    direct: DirectRoutes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.direct.match(scope)
        if route is None:
            await super().__call__(scope, receive, send)
        else:
            await route(scope, receive, send)


def create_app(
    settings: ReceiverSettings,
    *,
    endpoints: Sequence[Endpoint] = routes.ENDPOINTS,
    clock: Callable[[], float] = time.time,
    spool: Callable[[ReceiverSettings], Spool] = open_spool,
    link: Callable[[ReceiverSettings, Metrics], KafkaLink] = producer_link,
) -> ReceiverApp:
    """The receiver app. ``clock`` (wall-clock seconds) is for tests; ``spool`` and
    ``link`` make the spool and the Kafka link in the lifespan, once per start."""
    metrics = Metrics()
    topics = Topics(settings.topic_prefix)
    live: list[AppContext] = []

    def context() -> AppContext:
        if not live:
            raise Unavailable("the receiver is starting")
        return live[0]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            opened = spool(settings)
        except SpoolError as exc:
            log.error("cannot start: %s", exc)
            raise
        await adopt_leftovers(opened, leftover_dirs(settings), settings)
        kafka = link(settings, metrics)
        delivery = Delivery(
            kafka,
            opened,
            metrics,
            deadline_s=settings.produce_deadline_s,
            max_message_bytes=settings.kafka_max_message_bytes,
        )
        await delivery.start()
        refreshing = _refresh_shared_metrics(metrics)
        live.append(AppContext(settings, topics, delivery, metrics, clock))
        log.info(
            "receiver ready (pid %d): Kafka %s (%s), spool %s, topics prefixed %r",
            os.getpid(),
            settings.bootstrap_servers,
            "up" if kafka.kafka_up else "not answering",
            opened.directory,
            settings.topic_prefix,
        )
        try:
            yield
        finally:
            await delivery.close(settings.shutdown_drain_s)
            live.clear()
            if refreshing is not None:
                refreshing.cancel()
            metrics.close()
            log.info("receiver stopped")

    app = ReceiverApp(
        routes=routes.routes(endpoints, context, metrics),
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.direct = DirectRoutes(endpoints, context, metrics)
    app.state.metrics = metrics
    app.state.context = context  # what the lifespan made: delivery, topics (for tests, tools)
    return app


def _refresh_shared_metrics(metrics: Metrics) -> asyncio.Task[None] | None:
    """With several workers: drop the live gauges of workers that died, and write this
    one's every second, so that any worker's ``/metrics`` sums them all."""
    if metrics.shared_dir is None:
        return None
    forget_dead_workers(metrics.shared_dir)
    metrics.refresh()  # started: Kafka answered or not

    async def every_second() -> None:
        while True:
            await asyncio.sleep(1.0)
            metrics.refresh()

    return asyncio.create_task(every_second(), name="shared-metrics")


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http")
    return error_response(exc.status_code, code, exc.detail, dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    return internal_error(request.method, request.url.path, exc)
