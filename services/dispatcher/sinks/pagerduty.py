"""The PagerDuty sink: Events API v2, ``trigger`` with ``dedup_key = alert_id``.

A recovery alert (``flaky_test_recovered``) sends ``resolve`` for the alert it recovers:
the latest alert delivered to this sink under the same Kafka key (see
:mod:`services.dispatcher.records`). When nothing was triggered there, nothing is sent.

PagerDuty answers 202 when it took the event, 400 for an invalid one (not retried), 429
when rate limited and 5xx when unwell (both retried). A repeated trigger with the same
``dedup_key`` adds to the open alert instead of opening a second one, so a resend after a
crash is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import SecretStr

from schemas.alerts import Alert
from services.dispatcher.outbound import SinkClient
from services.dispatcher.records import RECOVERY_KINDS
from services.dispatcher.sinks.base import Envelope, Receipt
from services.dispatcher.sinks.request import raise_for_answer, request

__all__ = ["PagerDutySink", "pagerduty_event"]


def pagerduty_event(
    alert: Alert, routing_key: str, *, resolves: str | None = None
) -> dict[str, Any] | None:
    """The Events API v2 body for ``alert``, or ``None`` when there is nothing to send."""
    if alert.kind in RECOVERY_KINDS:
        if resolves is None:
            return None
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": resolves}
    details: dict[str, Any] = {
        "kind": alert.kind,
        "alert_id": alert.alert_id,
        "reasons": alert.reasons,
    }
    for name in ("failure", "deploy", "incident", "test"):
        if value := getattr(alert, name):
            details[name] = value
    if alert.score is not None:
        details["score"] = alert.score
    if alert.failing_tests_known_flaky is not None:
        details["failing_tests_known_flaky"] = alert.failing_tests_known_flaky
    payload: dict[str, Any] = {
        "summary": alert.summary[:1024],
        "source": alert.service or "kitestream",
        "severity": alert.severity,
        "timestamp": alert.created_at.isoformat(),
        "class": alert.kind,
        "custom_details": details,
    }
    if alert.service:
        payload["component"] = alert.service
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.alert_id,
        "client": "kitestream",
        "payload": payload,
        "links": [
            {"href": url, "text": name}
            for name, url in alert.links.items()
            if url.startswith(("https://", "http://"))
        ],
    }


class PagerDutySink:
    max_batch = 1
    min_interval_s = 0.0

    def __init__(
        self, name: str, *, routing_key: SecretStr, events_url: str, client: SinkClient
    ) -> None:
        self.name = name
        self._routing_key = routing_key
        self._events_url = events_url
        self._client = client

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        [delivery] = batch
        event = pagerduty_event(
            delivery.alert, self._routing_key.get_secret_value(), resolves=delivery.resolves
        )
        if event is None:
            return Receipt("nothing triggered here to resolve", skipped=True)
        response = await request(
            self._client,
            "POST",
            self._events_url,
            content=orjson.dumps(event),
            headers={"Content-Type": "application/json"},
        )
        raise_for_answer(response)
        return Receipt(
            f"{event['event_action']} {event['dedup_key']}: HTTP {response.status_code}",
            status=response.status_code,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
