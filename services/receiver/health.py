"""``GET /healthz``, ``GET /readyz`` and ``GET /metrics``: for orchestrators and Prometheus.

``/healthz`` answers 200 while the process serves requests. ``/readyz`` answers 200
when the receiver can make an event durable, that is when Kafka answers *or* the spool
can take more, and 503 otherwise (or while starting and stopping); its body says which.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from services.receiver.endpoints import AppContext, Endpoint
from services.receiver.openapi import json_body
from services.receiver.responses import json_response

__all__ = ["ENDPOINTS"]


async def healthz(_request: Request, _context: AppContext) -> Response:
    return json_response(200, {"status": "ok"})


async def readyz(_request: Request, context: AppContext) -> Response:
    state = context.delivery.readiness()
    return json_response(200 if state["ready"] else 503, state)


async def metrics(_request: Request, context: AppContext) -> Response:
    return Response(context.metrics.exposition(), media_type=CONTENT_TYPE_LATEST.split(";")[0])


_READINESS = {
    "type": "object",
    "required": ["ready", "kafka", "spool"],
    "properties": {
        "ready": {"type": "boolean"},
        "kafka": {"enum": ["up", "down"]},
        "spool": {
            "type": "object",
            "properties": {
                "writable": {"type": "boolean"},
                "records": {"type": "integer"},
                "bytes": {"type": "integer"},
                "max_bytes": {"type": "integer"},
                "oldest_age_s": {"type": "number"},
            },
        },
    },
}

ENDPOINTS = [
    Endpoint(
        path="/healthz",
        method="GET",
        name="healthz",
        handler=healthz,
        openapi={
            "operationId": "healthz",
            "summary": "Liveness: 200 while the process serves requests",
            "tags": ["operations"],
            "responses": {"200": json_body("Alive.", "Health")},
        },
        schemas={
            "Health": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"const": "ok"}},
            }
        },
    ),
    Endpoint(
        path="/readyz",
        method="GET",
        name="readyz",
        handler=readyz,
        openapi={
            "operationId": "readyz",
            "summary": "Readiness: Kafka answers or the spool can take more",
            "tags": ["operations"],
            "responses": {
                "200": json_body("Ready.", "Readiness"),
                "503": json_body("Neither Kafka nor the spool can take events.", "Readiness"),
            },
        },
        schemas={"Readiness": _READINESS},
    ),
    Endpoint(
        path="/metrics",
        method="GET",
        name="metrics",
        handler=metrics,
        openapi={
            "operationId": "metrics",
            "summary": "Prometheus metrics (text exposition format)",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "Metrics.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
    ),
]
