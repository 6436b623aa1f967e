"""Alerts and jobs for dispatcher tests (also used by tests/integration/dispatcher)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.alerts import Alert, AlertKind, Severity
from schemas.base import stable_id
from services.dispatcher.worker import Job, Origin

T0 = datetime(2026, 8, 1, 10, 0, 0, tzinfo=UTC)


def make_alert(
    n: int = 0,
    *,
    kind: AlertKind = "failure_deploy_incident",
    severity: Severity = "critical",
    service: str | None = "payments-api",
    **extra: Any,
) -> Alert:
    fields: dict[str, Any] = {
        "alert_id": stable_id("test-alert", kind, n),
        "kind": kind,
        "severity": severity,
        "service": service,
        "created_at": T0 + timedelta(minutes=n),
        "summary": f"Deploy d{n} of {service} lines up with build #{n} and incident P{n}",
        "reasons": ["same commit", "same service"],
        "links": {
            "build": f"https://buildkite.com/acme/payments-api/builds/{n}",
            "incident": f"https://acme.pagerduty.com/incidents/P{n}",
        },
        "score": 0.9,
    }
    fields.update(extra)
    return Alert.model_validate(fields)


def make_job(
    alert: Alert, *, key: str | None = None, offset: int = 0, read_at: float | None = None
) -> Job:
    """A job read now (``time.monotonic()``, the worker's clock) unless ``read_at``."""
    raw_key = None if key is None else key.encode()
    origin = Origin("alerts", 0, offset, raw_key, alert.to_json())
    return Job(alert, origin, time.monotonic() if read_at is None else read_at, generation=0)
