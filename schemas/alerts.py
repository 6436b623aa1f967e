"""Alerts on ``alerts`` (key = service, or test key for flakiness alerts). **Contract.**"""

from __future__ import annotations

from typing import Any, Literal

from schemas.base import Message, UtcDateTime

__all__ = ["Alert", "AlertKind", "Severity"]

AlertKind = Literal["failure_deploy_incident", "flaky_test", "flaky_test_recovered"]
Severity = Literal["critical", "warning", "info"]


class Alert(Message):
    """What the dispatcher delivers. ``alert_id`` is stable: the same cause, the same id.

    ``failure``, ``deploy``, ``incident`` and ``test`` hold what the producer knows of
    each (empty when not part of this kind); ``links`` maps names to URLs a person can
    open (``build``, ``deploy``, ``incident``, ``evidence``).
    """

    alert_id: str
    kind: AlertKind
    severity: Severity
    service: str | None = None
    created_at: UtcDateTime
    summary: str
    failure: dict[str, Any] = {}
    deploy: dict[str, Any] = {}
    incident: dict[str, Any] = {}
    test: dict[str, Any] = {}
    reasons: list[str] = []
    links: dict[str, str] = {}
    score: float | None = None
    failing_tests_known_flaky: bool | None = None
