"""``POST /webhooks/buildkite``: verify, normalise, hand to Kafka (or the spool), answer.

The order of checks keeps the cheap refusals first: a token (when no signature is
sent) is checked before the body is read; a signature is checked on the raw bytes
before they are parsed; then JSON, the event name and the payload schema.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic.json_schema import models_json_schema
from starlette.responses import Response

from services.ingest.request import load_json
from services.receiver.body import json_limits, read_body
from services.receiver.buildkite_payload import AgentWebhook, BuildWebhook, JobWebhook
from services.receiver.endpoints import AppContext, Endpoint, Incoming
from services.receiver.events import (
    EVENT_NAME_PATTERN,
    KNOWN_EVENTS,
    event_family,
    event_name,
    normalise,
)
from services.receiver.openapi import error, json_body
from services.receiver.responses import json_response
from services.receiver.routed import Routed
from services.receiver.settings import ReceiverSettings
from services.receiver.signature import BuildkiteVerifier

__all__ = ["ENDPOINT"]

log = logging.getLogger(__name__)

PATH = "/webhooks/buildkite"
_FAMILIES = {"build", "job", "agent"}
_MAX_UNKNOWN_LOGGED = 1000


def _verifier(settings: ReceiverSettings) -> BuildkiteVerifier:
    return BuildkiteVerifier(
        [t.get_secret_value() for t in settings.buildkite_tokens],
        tolerance_s=settings.signature_tolerance_s,
        require_signature=settings.buildkite_require_signature,
    )


def _unknown_seen(_settings: ReceiverSettings) -> set[str]:
    return set()


async def receive(request: Incoming, context: AppContext) -> Response:
    verifier = context.shared(_verifier)
    limits = context.shared(json_limits)
    token = request.headers.get("x-buildkite-token")
    signature = request.headers.get("x-buildkite-signature")
    now = context.clock()
    if not signature:  # token mode: refuse before reading the body
        verifier.verify(token=token, signature=None, body=b"", now=now)
    raw = await read_body(request, limits)
    if signature:
        verifier.verify(token=token, signature=signature, body=raw, now=now)
    name, routed = _read(request.headers.get("x-buildkite-event"), raw, now, limits.max_depth)
    if routed is None:
        return json_response(200, {"status": "ok", "event": name})
    if name not in KNOWN_EVENTS:
        _log_unknown_once(name, context.shared(_unknown_seen))
    topic = context.topics.name(routed.topic)
    path = await context.delivery.accept([(topic, routed.key.encode(), routed.value)])
    family = event_family(name)
    family = family if family in _FAMILIES else "other"
    context.metrics.child(context.metrics.events, "buildkite", family).inc()
    log.debug("accepted %s %s for %s via %s", name, routed.event_id, topic, path)
    return json_response(
        202,
        {
            "status": "accepted",
            "event": name,
            "event_id": routed.event_id,
            "topic": str(routed.topic),
            "delivery": path,
        },
    )


def _read(header: str | None, raw: bytes, now: float, max_depth: int) -> tuple[str, Routed | None]:
    """The event name and its message (``None``: nothing to send).

    The parsed body (dozens of dicts and lists for a build webhook) lives only in here,
    not in :func:`receive`'s frame while the request waits for Kafka's ack. Held across
    that wait by every request in flight, the bodies kept the garbage collector busy: a
    young collection every 17 requests or so instead of every few hundred, and a full
    one, 40-80 ms, every 2,000 (docs/benchmarks.md, Receiver, session 12).
    """
    body = load_json(raw, "body", max_depth)
    name = event_name(header, body)
    return name, normalise(name, body, datetime.fromtimestamp(now, UTC), raw)


def _log_unknown_once(name: str, seen: set[str]) -> None:
    if name in seen or len(seen) >= _MAX_UNKNOWN_LOGGED:
        return
    seen.add(name)
    log.info("accepted an event name kitestream does not know yet: %s (routed by family)", name)


def _schemas() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in (BuildWebhook, JobWebhook, AgentWebhook)],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    schemas["BuildkitePing"] = {
        "type": "object",
        "properties": {"event": {"const": "ping"}},
        "additionalProperties": True,
    }
    schemas["WebhookAccepted"] = {
        "type": "object",
        "required": ["status", "event", "event_id", "topic", "delivery"],
        "properties": {
            "status": {"const": "accepted"},
            "event": {"type": "string"},
            "event_id": {"type": "string", "description": "Same payload, same id."},
            "topic": {"type": "string", "description": "Unprefixed topic name."},
            "delivery": {
                "enum": ["kafka", "spool"],
                "description": "Acked by Kafka, or fsync'd to the spool while Kafka is away.",
            },
        },
    }
    schemas["WebhookPong"] = {
        "type": "object",
        "required": ["status", "event"],
        "properties": {"status": {"const": "ok"}, "event": {"const": "ping"}},
    }
    return schemas


def _header(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }


OPERATION: dict[str, Any] = {
    "operationId": "receiveBuildkiteWebhook",
    "summary": "Receive a Buildkite webhook (build.*, job.*, agent.*, ping)",
    "description": (
        "Authenticated by X-Buildkite-Token (compared in constant time with each configured "
        "token) or X-Buildkite-Signature (timestamp=T,signature=HMAC-SHA256(token, T.body)). "
        "Build events go to buildkite.builds and job events to buildkite.jobs, keyed by "
        "pipeline slug; agent events and families not known yet to buildkite.agents, keyed "
        "by agent id. 202 only once Kafka acked the message or it was fsync'd to the spool."
    ),
    "tags": ["buildkite"],
    "parameters": [
        _header(
            "X-Buildkite-Event",
            "Event name (family.action); falls back to the body's `event` field.",
            f"^{EVENT_NAME_PATTERN}$",
        ),
        _header("X-Buildkite-Token", "Token mode: the webhook token."),
        _header("X-Buildkite-Signature", "Signature mode: timestamp=T,signature=HEX."),
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/BuildWebhook"},
                        {"$ref": "#/components/schemas/JobWebhook"},
                        {"$ref": "#/components/schemas/AgentWebhook"},
                        {"$ref": "#/components/schemas/BuildkitePing"},
                    ]
                }
            }
        },
    },
    "responses": {
        "200": json_body("A ping; nothing produced.", "WebhookPong"),
        "202": json_body("Durably accepted.", "WebhookAccepted"),
        "400": error("Malformed body: not JSON, not UTF-8, or nested too deeply."),
        "401": error("Missing, wrong or stale credentials."),
        "408": error("The body did not arrive in time."),
        "413": error("The body (or the message it makes) is over the limit."),
        "415": error("Not application/json."),
        "422": error("Valid JSON that is not a Buildkite webhook."),
        "503": error("Neither Kafka nor the spool can take the event."),
    },
}

ENDPOINT = Endpoint(
    path=PATH,
    method="POST",
    name="buildkite_webhook",
    handler=receive,
    openapi=OPERATION,
    schemas=_schemas(),
    direct=receive,  # the hot path: served without starlette's stack (direct.py)
)
