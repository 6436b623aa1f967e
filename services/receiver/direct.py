"""The routes served straight from ASGI: endpoints that give a ``direct`` handler.

A webhook is the receiver's hot path, and starlette's stack around a handler (the
error middleware, the metrics middleware, the exception middleware, the router, the
route's request/response wrappers, ``Request`` and its ``Headers``) was a fifth of the
receiver's own CPU per request (docs/benchmarks.md, Receiver). :class:`DirectRoutes`
answers an exact ``(method, path)`` match itself, exactly as that stack would:

- the handler gets a :class:`~services.receiver.endpoints.DirectRequest`; an
  :class:`~services.ingest.errors.HttpError` it raises is answered by
  :func:`~services.receiver.endpoints.refusal` (JSON error, auth-failure count, one
  log line), as on the starlette route;
- any other exception is logged and answered with the contract's 500 JSON error, then
  raised again for the server to log, as starlette's ``ServerErrorMiddleware`` does;
- ``kitestream_receiver_requests_total{route,method,status}`` and
  ``kitestream_receiver_request_seconds{route}`` are recorded as
  :class:`~services.receiver.metrics.MetricsMiddleware` records them.

Everything else (other methods on the same path, which answer 405; an app mounted
under a ``root_path``; lifespan) goes through starlette as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.ingest.errors import HttpError
from services.receiver.endpoints import (
    AppContext,
    DirectHandler,
    DirectRequest,
    Endpoint,
    refusal,
)
from services.receiver.metrics import Metrics
from services.receiver.responses import error_response

__all__ = ["DirectRoutes", "internal_error"]

log = logging.getLogger(__name__)


def internal_error(method: str, path: str, exc: BaseException) -> Response:
    """The 500 answer to an unexpected error, logged (starlette's routes and direct ones)."""
    log.error("unexpected error on %s %s: %r", method, path, exc)
    return error_response(500, "internal", "unexpected error; see the receiver's log")


class DirectRoutes:
    """The direct routes of ``endpoints``; :meth:`match` finds the one for a request."""

    def __init__(
        self, endpoints: Sequence[Endpoint], context: Callable[[], AppContext], metrics: Metrics
    ) -> None:
        self._routes: dict[tuple[str, str], ASGIApp] = {
            (endpoint.method, endpoint.path): _serve(endpoint, endpoint.direct, context, metrics)
            for endpoint in endpoints
            if endpoint.direct is not None
        }

    def match(self, scope: Scope) -> ASGIApp | None:
        """The direct route answering ``scope``, or ``None`` (starlette answers it)."""
        if not self._routes or scope["type"] != "http" or scope.get("root_path"):
            return None
        return self._routes.get((scope["method"], scope["path"]))


def _serve(
    endpoint: Endpoint,
    handler: DirectHandler,
    context: Callable[[], AppContext],
    metrics: Metrics,
) -> ASGIApp:
    route, method = endpoint.path, endpoint.method
    seconds = metrics.child(metrics.request_seconds, route)
    answers: dict[int, Any] = {}  # the requests counter's child of each status

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # when it fails before answering
        try:
            request = DirectRequest(scope, receive)
            try:
                response = await handler(request, context())
            except HttpError as exc:
                response = refusal(endpoint, request, exc, metrics)
            except Exception as exc:
                await internal_error(method, scope["path"], exc)(scope, receive, send)
                raise
            status = response.status_code
            await response(scope, receive, send)
        finally:
            counter = answers.get(status)
            if counter is None:
                counter = answers[status] = metrics.child(
                    metrics.requests, route, method, str(status)
                )
            counter.inc()
            seconds.observe(time.perf_counter() - started)

    return serve
