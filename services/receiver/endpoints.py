"""How an ingest endpoint plugs into the receiver: an :class:`Endpoint` and its context.

An endpoint is a path, a method, an OpenAPI operation and an async handler
``handler(request, context) -> Response``. :func:`~services.receiver.app.create_app`
builds its routes from a list of them (``ENDPOINTS`` in ``routes.py``), so adding an
endpoint is one module and one line. Handlers get an :class:`AppContext` holding what the
lifespan created (the :class:`~services.receiver.delivery.Delivery`, the metrics, the
topics) and raise :class:`~services.ingest.errors.HttpError` subclasses to refuse a
request; :func:`as_route` answers those as JSON errors, counts auth failures by reason,
and logs one line per refused request without any credential in it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.topics import Topics
from services.ingest.errors import HttpError, Unauthorized
from services.receiver.delivery import Delivery
from services.receiver.metrics import Metrics
from services.receiver.responses import json_response
from services.receiver.settings import ReceiverSettings

__all__ = ["AppContext", "Endpoint", "Handler", "as_route"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class AppContext:
    """What every handler may use; one per app, made in the lifespan."""

    settings: ReceiverSettings
    topics: Topics
    delivery: Delivery
    metrics: Metrics
    clock: Callable[[], float] = time.time  # wall-clock seconds; tests pass their own
    _shared: dict[Callable[[ReceiverSettings], Any], Any] = field(default_factory=dict)

    def shared(self, factory: Callable[[ReceiverSettings], T]) -> T:
        """One object per app made by ``factory(settings)`` on first use (a verifier, the
        body limits of an endpoint, …): endpoints keep their own state without adding
        fields here."""
        if factory not in self._shared:
            self._shared[factory] = factory(self.settings)
        return cast(T, self._shared[factory])


Handler = Callable[[Request, AppContext], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One ingest route: ``openapi`` is its OpenAPI operation object, ``schemas`` the
    component schemas that operation refers to (``#/components/schemas/<name>``) and
    ``security_schemes`` the ones its ``security`` names (``#/components/securitySchemes``).
    """

    path: str
    method: str
    name: str
    handler: Handler
    openapi: dict[str, Any]
    schemas: dict[str, Any] = field(default_factory=dict)
    security_schemes: dict[str, Any] = field(default_factory=dict)


def as_route(endpoint: Endpoint, context: Callable[[], AppContext], metrics: Metrics) -> Route:
    """A starlette route running ``endpoint`` with the app's :class:`AppContext` (``context()``
    raises :class:`~services.ingest.errors.Unavailable` until the lifespan made it)."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint.handler(request, context())
        except HttpError as exc:
            reason = exc.reason if isinstance(exc, Unauthorized) else exc.code
            if isinstance(exc, Unauthorized):
                metrics.auth_failures.labels(endpoint.path, exc.reason).inc()
            client = request.client.host if request.client else "-"
            log.warning(
                "rejected %s %s from %s: %d %s (%s)",
                request.method,
                endpoint.path,
                client,
                exc.status,
                reason,
                exc.detail,
                extra={
                    "route": endpoint.path,
                    "status": exc.status,
                    "error": exc.code,
                    "reason": reason,
                    "client": client,
                },
            )
            return json_response(exc.status, exc.to_body())

    return Route(endpoint.path, run, methods=[endpoint.method], name=endpoint.name)
