"""The log sink: one log line per alert (JSON lines carry the alert's fields too)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.dispatcher.sinks.base import Envelope, Receipt

__all__ = ["LogSink"]

log = logging.getLogger(__name__)

_LEVELS = {"critical": logging.WARNING, "warning": logging.INFO, "info": logging.INFO}


class LogSink:
    max_batch = 1
    min_interval_s = 0.0

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        for delivery in batch:
            alert = delivery.alert
            log.log(
                _LEVELS[alert.severity],
                "alert %s %s %s: %s",
                alert.severity.upper(),
                alert.kind,
                alert.service or "-",
                alert.summary,
                extra={
                    "alert_id": alert.alert_id,
                    "alert_kind": alert.kind,
                    "severity": alert.severity,
                    "service": alert.service,
                    "reasons": alert.reasons,
                    "links": alert.links,
                },
            )
        return Receipt("logged")

    async def aclose(self) -> None:
        return None
