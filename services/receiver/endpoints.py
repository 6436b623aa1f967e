"""How an ingest endpoint plugs into the receiver: an :class:`Endpoint` and its context.

An endpoint is a path, a method, an OpenAPI operation and an async handler
``handler(request, context) -> Response``. :func:`~services.receiver.app.create_app`
builds its routes from a list of them (``ENDPOINTS`` in ``routes.py``), so adding an
endpoint is one module and one line. Handlers get an :class:`AppContext` holding what the
lifespan created (the :class:`~services.receiver.delivery.Delivery`, the metrics, the
topics) and raise :class:`~services.ingest.errors.HttpError` subclasses to refuse a
request; :func:`as_route` answers those as JSON errors, counts auth failures by reason,
and logs one line per refused request without any credential in it.

A handler that reads only what :class:`Incoming` offers (headers, the body stream, the
method and the client) may also be given as ``Endpoint.direct``: the app then serves
its route straight from ASGI with a :class:`DirectRequest` (see
:mod:`~services.receiver.direct`), without starlette's request object, middleware and
router; the same handler, the same refusals (:func:`refusal`), the same metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from starlette.datastructures import Address
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope

from services.common.topics import Topics
from services.ingest.errors import HttpError, Unauthorized
from services.receiver.delivery import Delivery
from services.receiver.metrics import Metrics
from services.receiver.responses import json_response
from services.receiver.settings import ReceiverSettings

__all__ = [
    "AppContext",
    "DirectHandler",
    "DirectRequest",
    "Endpoint",
    "Handler",
    "Incoming",
    "as_route",
    "refusal",
]

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


class Incoming(Protocol):
    """What a direct handler may read of a request: starlette's ``Request`` has it, and
    so has :class:`DirectRequest`. Header names are looked up in lower case."""

    @property
    def method(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def client(self) -> Address | None: ...

    @property
    def receive(self) -> Receive: ...


class DirectRequest:
    """An :class:`Incoming` made straight from the ASGI scope: the headers in a plain dict
    (lower-case names, as ASGI servers send them; the first of repeated names wins, as
    with starlette's ``Headers.get``)."""

    __slots__ = ("headers", "method", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            if key not in headers:
                headers[key] = value.decode("latin-1")
        self.headers = headers

    @property
    def client(self) -> Address | None:
        host_port = self.scope.get("client")
        return Address(*host_port) if host_port is not None else None


Handler = Callable[[Request, AppContext], Awaitable[Response]]
DirectHandler = Callable[[Incoming, AppContext], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One ingest route: ``openapi`` is its OpenAPI operation object, ``schemas`` the
    component schemas that operation refers to (``#/components/schemas/<name>``) and
    ``security_schemes`` the ones its ``security`` names (``#/components/securitySchemes``).
    ``direct``, when given, is the same handler typed for :class:`Incoming`: the app then
    serves this route without starlette's request, middleware and router.
    """

    path: str
    method: str
    name: str
    handler: Handler
    openapi: dict[str, Any]
    schemas: dict[str, Any] = field(default_factory=dict)
    security_schemes: dict[str, Any] = field(default_factory=dict)
    direct: DirectHandler | None = None


def refusal(endpoint: Endpoint, request: Incoming, exc: HttpError, metrics: Metrics) -> Response:
    """The JSON error answering ``exc``; counts an auth failure by reason and logs one
    line without any credential in it."""
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


def as_route(endpoint: Endpoint, context: Callable[[], AppContext], metrics: Metrics) -> Route:
    """A starlette route running ``endpoint`` with the app's :class:`AppContext` (``context()``
    raises :class:`~services.ingest.errors.Unavailable` until the lifespan made it)."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint.handler(request, context())
        except HttpError as exc:
            return refusal(endpoint, request, exc, metrics)

    return Route(endpoint.path, run, methods=[endpoint.method], name=endpoint.name)
