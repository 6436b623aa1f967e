"""Opsgenie's Webhook integration payload, mapped to incidents as far as it maps.

Opsgenie's outgoing webhook has a fixed shape (custom headers are allowed, so it can
carry ``Authorization: Bearer …`` to ``/api/incidents``)::

    {"action": "Create",
     "alert": {"alertId": "44f7…", "tinyId": "12", "message": "Checkout errors",
               "entity": "payments-api", "tags": ["service:payments-api"],
               "details": {"service": "payments-api"}, "priority": "P1",
               "createdAt": 1785578405000, …},
     "source": {"name": "web", "type": "web"}, "integrationName": "Webhook"}

``Create``/``UnAcknowledge`` open the incident, ``Acknowledge`` acknowledges it,
``Close`` and ``Delete`` resolve it; other actions (notes, assignments, custom
actions) are accepted and ignored. An alert is not bound to a service in Opsgenie,
so the service is read from ``details.service``, else a ``service:<name>`` tag, else
``entity``; an alert with none of them is a 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.base import stable_id
from schemas.operations import IncidentEvent
from services.ingest.errors import InvalidPayload
from services.ingest.fields import MAX_SAFE_INTEGER, OptionalText, OptionalTime

__all__ = ["is_opsgenie", "parse_opsgenie"]

_ACTIONS: dict[str, Literal["triggered", "acknowledged", "resolved"]] = {
    "create": "triggered",
    "unacknowledge": "triggered",
    "acknowledge": "acknowledged",
    "close": "resolved",
    "delete": "resolved",
}


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)

    alert_id: str = Field(alias="alertId", min_length=1)
    tiny_id: OptionalText = Field(None, alias="tinyId")
    message: OptionalText = None
    entity: OptionalText = None
    tags: list[str] = []
    details: dict[str, Any] = {}
    priority: OptionalText = None
    created_at: OptionalTime = Field(None, alias="createdAt")

    def service(self) -> str | None:
        named = self.details.get("service")
        if isinstance(named, str) and named.strip():
            return named.strip()
        for tag in self.tags:
            key, sep, value = tag.partition(":")
            if sep and key.strip().lower() == "service" and value.strip():
                return value.strip()
        return self.entity


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str
    alert: _Alert


def _number(tiny_id: str | None) -> int | None:
    """``tinyId`` as a number when it is a plain one within :data:`MAX_SAFE_INTEGER`."""
    if not tiny_id or len(tiny_id) > 16 or not (tiny_id.isascii() and tiny_id.isdigit()):
        return None
    number = int(tiny_id)
    return number if number <= MAX_SAFE_INTEGER else None


def is_opsgenie(document: object) -> bool:
    """Whether a JSON body has the Opsgenie webhook shape (``action`` + ``alert``)."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("action"), str)
        and isinstance(document.get("alert"), dict)
    )


def parse_opsgenie(document: object, received_at: datetime) -> IncidentEvent | None:
    """The incident message for an Opsgenie alert action, or ``None`` to ignore it."""
    try:
        hook = _Webhook.model_validate(document)
    except ValidationError as exc:
        raise InvalidPayload.from_validation("opsgenie webhook", exc) from None
    action = hook.action.strip().lower()
    status = _ACTIONS.get(action)
    if status is None:
        return None
    alert = hook.alert
    service = alert.service()
    if not service:
        raise InvalidPayload(
            "opsgenie webhook: no service (set details.service, a service:<name> tag or entity)"
        )
    return IncidentEvent(
        event_id=stable_id("opsgenie", alert.alert_id, action, alert.model_dump(mode="json")),
        event=f"incident.{status}",
        incident_id=alert.alert_id,
        number=_number(alert.tiny_id),
        service=service,
        title=alert.message or f"Opsgenie alert {alert.tiny_id or alert.alert_id}",
        status=status,
        priority=alert.priority,
        opened_at=alert.created_at or received_at,
        source="opsgenie",
        received_at=received_at,
    )
