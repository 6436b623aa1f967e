"""``POST /webhooks/pagerduty``: PagerDuty v3 webhooks, verified, mapped to incidents.

Verification: PagerDuty signs the raw body with HMAC-SHA256 keyed by the
subscription's signing secret and sends ``X-PagerDuty-Signature: v1=<hex>``; while
a secret rotates the header carries several, comma-separated. A request is genuine
when any ``v1`` signature matches any secret in ``KITESTREAM_PAGERDUTY_SECRETS``.

Mapping: every ``incident.*`` event whose ``event.data`` is the incident itself
(triggered, acknowledged, unacknowledged, resolved, reopened, reassigned, escalated,
delegated, priority_updated, …) becomes an :class:`IncidentEvent` keyed by the
PagerDuty service id. Events about something else (``pagey.ping``, ``service.*``,
``incident.annotated`` whose data is a note, responder and status-update events)
are accepted and ignored: :func:`pagerduty_incident` returns ``None``.

The receiver's route reads the signatures first (:func:`offered_signatures`: an
unsigned request is refused before its body is read), then the body, then calls
:func:`read_webhook`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.base import stable_id
from schemas.operations import IncidentEvent
from services.ingest.auth import Secret, hmac_sha256_hex, reveal
from services.ingest.errors import InvalidPayload, Unauthorized
from services.ingest.fields import OptionalCount, OptionalText, OptionalTime
from services.ingest.request import DEFAULT_MAX_JSON_DEPTH, Headers, header, load_json

__all__ = [
    "SIGNATURE_HEADER",
    "match_signatures",
    "offered_signatures",
    "pagerduty_incident",
    "read_webhook",
    "sign",
    "signing_keys",
]

SIGNATURE_HEADER = "X-PagerDuty-Signature"
_MAX_SIGNATURES = 16  # PagerDuty sends one, two while a secret rotates
_STATUSES: dict[str, Literal["triggered", "acknowledged", "resolved"]] = {
    "triggered": "triggered",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
}


def sign(body: bytes, secret: Secret) -> str:
    """The ``v1=<hex>`` signature PagerDuty sends for ``body`` under ``secret``."""
    return "v1=" + hmac_sha256_hex(reveal(secret).encode("utf-8"), body)


def signing_keys(secrets: Sequence[Secret]) -> list[bytes]:
    """The HMAC keys of ``secrets``; a route makes them once, not per request."""
    return [reveal(secret).encode("utf-8") for secret in secrets]


def offered_signatures(headers: Headers) -> list[bytes]:
    """The ``v1=`` signatures (hex, lower case) in the header; 401 when there are none.

    A route calls this before reading the body, so an unsigned request is refused
    without waiting for it.
    """
    raw = header(headers, SIGNATURE_HEADER)
    if not raw:
        raise Unauthorized("missing_credentials", f"missing {SIGNATURE_HEADER}")
    offered = [
        part.strip()[3:].strip().lower().encode("ascii", errors="replace")
        for part in raw.split(",")
        if part.strip().lower().startswith("v1=")
    ][:_MAX_SIGNATURES]
    if not offered:
        raise Unauthorized("malformed_credentials", f"{SIGNATURE_HEADER} has no v1= signature")
    return offered


def match_signatures(offered: Sequence[bytes], body: bytes, keys: Sequence[bytes]) -> None:
    """Accept when any ``offered`` signature (:func:`offered_signatures`) is the HMAC of
    ``body`` under any of ``keys`` (:func:`signing_keys`), else 401."""
    expected = [hmac_sha256_hex(key, body).encode("ascii") for key in keys]
    matched = False
    for mine in expected:  # compare every pair: the time does not tell which matched
        for theirs in offered:
            matched |= hmac.compare_digest(mine, theirs)
    if not matched:
        raise Unauthorized("bad_signature", f"{SIGNATURE_HEADER} does not match the body")


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: OptionalText = None
    summary: OptionalText = None


class _Incident(BaseModel):
    """``event.data`` of an incident event (the fields kitestream reads)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str
    type: OptionalText = None
    number: OptionalCount = None
    title: OptionalText = None
    summary: OptionalText = None
    status: OptionalText = None
    urgency: OptionalText = None
    priority: _Ref | None = None
    service: _Ref
    html_url: OptionalText = None
    created_at: OptionalTime = None
    resolved_at: OptionalTime = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: OptionalText = None
    event_type: str
    occurred_at: OptionalTime = None
    data: dict[str, Any] | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: _Event


def _status(
    incident: _Incident, event_type: str
) -> Literal["triggered", "acknowledged", "resolved"]:
    known = _STATUSES.get((incident.status or "").lower())
    if known is not None:
        return known
    if event_type == "incident.resolved":
        return "resolved"
    if event_type == "incident.acknowledged":
        return "acknowledged"
    return "triggered"


def read_webhook(
    offered: Sequence[bytes],
    body: bytes,
    keys: Sequence[bytes],
    *,
    received_at: datetime,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> IncidentEvent | None:
    """A webhook body as received, under the signatures read before it: 401 unless one
    matches (:func:`match_signatures`), 400 unless JSON, then :func:`pagerduty_incident`."""
    match_signatures(offered, body, keys)
    return pagerduty_incident(load_json(body, "body", max_depth), received_at)


def pagerduty_incident(document: object, received_at: datetime) -> IncidentEvent | None:
    """The incident message of a verified webhook's JSON, or ``None`` to ignore it."""
    try:
        event = _Envelope.model_validate(document).event
    except ValidationError as exc:
        raise InvalidPayload.from_validation("not a PagerDuty v3 webhook", exc) from None
    data = event.data or {}
    if not event.event_type.startswith("incident.") or data.get("type", "incident") != "incident":
        return None
    try:
        incident = _Incident.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload.from_validation("event.data is not an incident", exc) from None
    if incident.service.id is None:
        raise InvalidPayload("event.data.service.id is missing")
    status = _status(incident, event.event_type)
    resolved_at = incident.resolved_at
    if resolved_at is None and event.event_type == "incident.resolved":
        resolved_at = event.occurred_at
    event_id = (
        stable_id("pagerduty", event.id)
        if event.id
        else stable_id("pagerduty", event.event_type, incident.id, event.occurred_at)
    )
    return IncidentEvent(
        event_id=event_id,
        event=event.event_type,
        incident_id=incident.id,
        number=incident.number,
        service=incident.service.id,
        service_name=incident.service.summary,
        title=incident.title or incident.summary or f"PagerDuty incident {incident.id}",
        status=status,
        urgency=incident.urgency,
        priority=incident.priority.summary if incident.priority else None,
        url=incident.html_url,
        opened_at=incident.created_at or event.occurred_at or received_at,
        changed_at=event.occurred_at,
        resolved_at=resolved_at,
        source="pagerduty",
        received_at=received_at,
    )
