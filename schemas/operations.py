"""Deploys and incidents, keyed by service as sent (PagerDuty: its service id)."""

from __future__ import annotations

from typing import Literal

from schemas.base import Message, UtcDateTime

__all__ = ["DeployEvent", "IncidentEvent"]


class DeployEvent(Message):
    """A deploy started or ended, from ``POST /api/deploys`` (source ``api``)."""

    event_id: str
    deploy_id: str
    service: str
    environment: str = "production"
    commit: str | None = None
    state: Literal["started", "succeeded", "failed", "cancelled"]
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None
    url: str | None = None
    source: str = "api"
    received_at: UtcDateTime


class IncidentEvent(Message):
    """An incident opened, changed or closed (PagerDuty webhook or ``POST /api/incidents``)."""

    event_id: str
    event: str
    incident_id: str
    number: int | None = None
    service: str
    service_name: str | None = None
    title: str
    status: Literal["triggered", "acknowledged", "resolved"]
    urgency: str | None = None
    priority: str | None = None
    url: str | None = None
    opened_at: UtcDateTime
    changed_at: UtcDateTime | None = None
    resolved_at: UtcDateTime | None = None
    source: str
    received_at: UtcDateTime
