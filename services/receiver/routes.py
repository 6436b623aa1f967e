"""The receiver's endpoints, and the one place they are assembled: routes and OpenAPI.

:func:`~services.receiver.app.create_app` serves :func:`routes` of ``ENDPOINTS``: each
endpoint's route plus ``GET /openapi.json``, the :func:`document` made from the
operations the endpoint modules declare. The same document is checked in beside this
module as ``openapi.json``; a test fails when the two drift. Regenerate it after
changing an endpoint::

    python -m services.receiver.routes

To add an ingest endpoint, write a module exposing an
:class:`~services.receiver.endpoints.Endpoint` with its OpenAPI operation (see
``buildkite_webhook.py``: it reads its body with :mod:`~services.receiver.body`,
checks credentials with :mod:`services.ingest.auth` / :mod:`~services.receiver.signature`,
and hands its messages to ``context.delivery.accept``), add it here, and regenerate.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.receiver import buildkite_webhook, health, ingest_endpoints
from services.receiver.endpoints import AppContext, Endpoint, as_route
from services.receiver.metrics import Metrics
from services.receiver.openapi import ERROR_SCHEMA

__all__ = ["CHECKED_IN", "ENDPOINTS", "OPENAPI_PATH", "document", "render", "routes"]

ENDPOINTS: list[Endpoint] = [
    buildkite_webhook.ENDPOINT,
    *ingest_endpoints.ENDPOINTS,
    *health.ENDPOINTS,
]

CHECKED_IN = Path(__file__).with_name("openapi.json")
OPENAPI_PATH = "/openapi.json"

_OPENAPI_OPERATION = {
    "operationId": "openapi",
    "summary": "This document",
    "tags": ["operations"],
    "responses": {
        "200": {
            "description": "The OpenAPI document.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
}


def document(endpoints: Sequence[Endpoint] = ENDPOINTS, version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints`` and of ``GET /openapi.json`` itself."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    security_schemes: dict[str, Any] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = endpoint.openapi
        schemas.update(endpoint.schemas)
        security_schemes.update(endpoint.security_schemes)
    components: dict[str, Any] = {"schemas": schemas}
    if security_schemes:
        components["securitySchemes"] = security_schemes
    paths[OPENAPI_PATH] = {"get": _OPENAPI_OPERATION}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kitestream receiver",
            "version": version,
            "description": (
                "Verified webhooks, test results, deploys and incidents onto Kafka. Every "
                "2xx means the event is durable: acked by Kafka (acks=all) or fsync'd to "
                "the local spool while Kafka is away. A refused request writes nothing. "
                'Errors answer {"error": "<code>", "detail": "…"}.'
            ),
        },
        "paths": paths,
        "components": components,
    }


def render(endpoints: Sequence[Endpoint] = ENDPOINTS) -> bytes:
    """The document as checked in: indented, keys sorted, newline at the end."""
    return (
        orjson.dumps(document(endpoints), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )


def routes(
    endpoints: Sequence[Endpoint], context: Callable[[], AppContext], metrics: Metrics
) -> list[Route]:
    """A route per endpoint (run by :func:`~services.receiver.endpoints.as_route`) and
    ``GET /openapi.json`` serving :func:`document` of the same endpoints."""
    served = orjson.dumps(document(endpoints))

    async def serve_openapi(_request: Request) -> Response:
        return Response(served, media_type="application/json")

    return [
        *(as_route(endpoint, context, metrics) for endpoint in endpoints),
        Route(OPENAPI_PATH, serve_openapi, methods=["GET"], name="openapi"),
    ]


def main() -> int:
    """Write the checked-in document (``python -m services.receiver.routes``)."""
    CHECKED_IN.write_bytes(render())
    sys.stdout.write(f"wrote {CHECKED_IN}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
