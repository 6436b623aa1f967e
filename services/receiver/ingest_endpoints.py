"""The ingest endpoints: test results, PagerDuty incidents, deploys and other incidents.

Each handler is the receiver's shell around the pure steps of :mod:`services.ingest`,
the same functions its tests call, refusing cheaply first::

    POST /v1/uploads          SuiteTokens.authenticate (401) ─▶ read_body: type, size, time,
                              gzip ─▶ read_upload ─▶ every execution on tests.results,
                              key = suite
    POST /webhooks/pagerduty  offered_signatures (401) ─▶ read_body ─▶ read_webhook:
                              signature (401), JSON ─▶ incident on incidents, key =
                              PagerDuty service id (other events: 202 "ignored")
    POST /api/deploys         check_bearer (401) ─▶ read_json ─▶ parse_deploy ─▶ deploys
    POST /api/incidents       check_bearer (401) ─▶ read_json ─▶ parse_incident ─▶ incidents

The two ``/api/*`` endpoints differ only in their topic and parser (``_BEARER``).
Bodies are read with :mod:`~services.receiver.body` under the receiver's limits,
refusals are :mod:`services.ingest.errors` (answered by the endpoint wrapper), and
messages go through ``context.delivery.accept`` all together, after every check: a
refused request writes nothing, and a 202 means every message of it is durable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schemas.operations import DeployEvent, IncidentEvent
from services.common.topics import Topic
from services.ingest.api import API_MEDIA_TYPES, parse_deploy, parse_incident
from services.ingest.auth import SecretSet, SuiteTokens, check_bearer, secret_set
from services.ingest.pagerduty import offered_signatures, read_webhook, signing_keys
from services.ingest.results import Limits
from services.ingest.testengine import UPLOAD_MEDIA_TYPES, read_upload
from services.receiver import ingest_openapi as docs
from services.receiver.body import BodyLimits, json_limits, read_body, read_json
from services.receiver.endpoints import AppContext, Endpoint, Handler
from services.receiver.responses import json_response
from services.receiver.settings import ReceiverSettings

__all__ = ["ENDPOINTS"]

log = logging.getLogger(__name__)

# What a bearer endpoint makes of its JSON body (``None``: accepted, nothing to send).
Parser = Callable[[object, datetime], DeployEvent | IncidentEvent | None]


# -- per-app objects, made once from the settings by ``context.shared`` --------------------
# (credentials are optional settings: without them an endpoint refuses everything, and
# says so once in the log when the first request arrives)


def _unconfigured(variable: str, route: str) -> None:
    log.warning("%s is empty: every request to %s is refused (401)", variable, route)


def _suites(settings: ReceiverSettings) -> SuiteTokens:
    if not settings.test_suites:
        _unconfigured("KITESTREAM_TEST_SUITES", "/v1/uploads")
    return SuiteTokens.from_mapping(settings.test_suites)


def _upload_body(settings: ReceiverSettings) -> BodyLimits:
    return replace(json_limits(settings), media_types=UPLOAD_MEDIA_TYPES, allow_gzip=True)


def _upload_limits(settings: ReceiverSettings) -> Limits:
    """Files inside a form are inflated within the same cap as the body."""
    return Limits(
        max_inflated_bytes=settings.max_body_bytes, max_json_depth=settings.max_json_depth
    )


def _pagerduty_keys(settings: ReceiverSettings) -> list[bytes]:
    if not settings.pagerduty_secrets:
        _unconfigured("KITESTREAM_PAGERDUTY_SECRETS", "/webhooks/pagerduty")
    return signing_keys(settings.pagerduty_secrets)


def _api_tokens(settings: ReceiverSettings) -> SecretSet:
    if not settings.api_tokens:
        _unconfigured("KITESTREAM_API_TOKENS", "/api/*")
    return secret_set(settings.api_tokens)


def _api_body(settings: ReceiverSettings) -> BodyLimits:
    return replace(json_limits(settings), media_types=API_MEDIA_TYPES, allow_gzip=True)


def _received_at(context: AppContext) -> datetime:
    return datetime.fromtimestamp(context.clock(), UTC)


# -- handlers -------------------------------------------------------------------------------


async def receive_upload(request: Request, context: AppContext) -> Response:
    suite = context.shared(_suites).authenticate(request.headers)
    body = await read_body(request, context.shared(_upload_body))  # gzip undone, capped
    messages, answer = _upload_messages(suite, request, body, context)
    path = await context.delivery.accept(messages)
    context.metrics.child(context.metrics.events, "test_collector", "test_result").inc(
        len(messages)
    )
    log.debug(
        "accepted upload %s for suite %s: %d queued, %d skipped, via %s",
        answer["id"],
        suite,
        len(messages),
        answer["skipped"],
        path,
    )
    return json_response(202, answer)


def _upload_messages(
    suite: str, request: Request, body: bytes, context: AppContext
) -> tuple[list[tuple[str, bytes, bytes]], dict[str, Any]]:
    """An upload's messages and its 202 body. The :class:`Upload` (a model per test
    result) lives only in here, not across the wait for Kafka's ack, where it would keep
    the garbage collector busy (as the webhook's parsed body did, ``buildkite_webhook``)."""
    upload = read_upload(
        suite,
        request.headers,
        body,
        received_at=_received_at(context),
        limits=context.shared(_upload_limits),
    )
    topic = context.topics.name(Topic.TEST_RESULTS)
    key = suite.encode()
    return [(topic, key, r.to_json()) for r in upload.results], upload.response_body()


async def receive_pagerduty(request: Request, context: AppContext) -> Response:
    offered = offered_signatures(request.headers)  # unsigned: refused before the body is read
    limits = context.shared(json_limits)
    body = await read_body(request, limits)
    event = read_webhook(
        offered,
        body,
        context.shared(_pagerduty_keys),
        received_at=_received_at(context),
        max_depth=limits.max_depth,
    )
    return await _deliver(context, Topic.INCIDENTS, event, source="pagerduty", family="incident")


def _bearer(topic: Topic, parse: Parser, family: str) -> Handler:
    """The handler of an ``/api/*`` endpoint: token, JSON body, ``parse``, ``topic``."""

    async def receive(request: Request, context: AppContext) -> Response:
        check_bearer(request.headers, context.shared(_api_tokens))  # before the body
        _raw, document = await read_json(request, context.shared(_api_body))
        event = parse(document, _received_at(context))
        return await _deliver(context, topic, event, source="api", family=family)

    return receive


async def _deliver(
    context: AppContext,
    topic: Topic,
    event: DeployEvent | IncidentEvent | None,
    *,
    source: str,
    family: str,
) -> Response:
    """Make ``event`` durable, keyed by its service, and answer 202 (``None``: ignored)."""
    if event is None:
        context.metrics.child(context.metrics.events, source, "ignored").inc()
        return json_response(202, {"status": "ignored"})
    name = context.topics.name(topic)
    path = await context.delivery.accept([(name, event.service.encode(), event.to_json())])
    context.metrics.child(context.metrics.events, source, family).inc()
    log.debug("accepted %s %s for %s via %s", family, event.event_id, name, path)
    return json_response(
        202,
        {"status": "accepted", "event_id": event.event_id, "topic": str(topic), "delivery": path},
    )


def _post(
    path: str, name: str, handler: Handler, operation: dict[str, Any], security: dict[str, Any]
) -> Endpoint:
    return Endpoint(
        path=path,
        method="POST",
        name=name,
        handler=handler,
        openapi=operation,
        schemas=docs.SCHEMAS,
        security_schemes=security,
    )


# The bearer endpoints: path, route name, topic, parser, metrics family, OpenAPI operation.
_BEARER: Sequence[tuple[str, str, Topic, Parser, str, dict[str, Any]]] = [
    ("/api/deploys", "deploys", Topic.DEPLOYS, parse_deploy, "deploy", docs.DEPLOYS),
    ("/api/incidents", "incidents", Topic.INCIDENTS, parse_incident, "incident", docs.INCIDENTS),
]

ENDPOINTS: Sequence[Endpoint] = [
    _post("/v1/uploads", "test_uploads", receive_upload, docs.UPLOADS, docs.UPLOAD_SECURITY),
    _post(
        "/webhooks/pagerduty",
        "pagerduty_webhook",
        receive_pagerduty,
        docs.PAGERDUTY,
        docs.PAGERDUTY_SECURITY,
    ),
    *(
        _post(path, name, _bearer(topic, parse, family), operation, docs.API_SECURITY)
        for path, name, topic, parse, family, operation in _BEARER
    ),
]
