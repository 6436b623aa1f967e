"""The generic webhook sink: the alert as JSON, signed, with an idempotency key.

Request::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <alert_id>                       (the same on every attempt)
    X-Kitestream-Signature: t=<unix>,v1=<hex>         (see services.dispatcher.signature)
    X-Kitestream-Attempt: <n>

    {"alert_id": "…", "kind": "…", …}                 (the alert format, as on `alerts`)

Any 2xx is success; see :mod:`services.dispatcher.sinks.request` for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from pydantic import SecretStr

from services.dispatcher.outbound import SinkClient
from services.dispatcher.signature import SIGNATURE_HEADER, sign
from services.dispatcher.sinks.base import Envelope, Receipt
from services.dispatcher.sinks.request import raise_for_answer, request

__all__ = ["WebhookSink", "webhook_headers"]


def webhook_headers(
    alert_id: str, body: bytes, secret: bytes, *, timestamp: int, attempt: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": alert_id,
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        "X-Kitestream-Attempt": str(attempt),
    }


class WebhookSink:
    max_batch = 1
    min_interval_s = 0.0

    def __init__(
        self,
        name: str,
        *,
        url: SecretStr,
        secret: SecretStr,
        client: SinkClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._client = client
        self._clock = clock

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        [delivery] = batch
        body = delivery.alert.to_json()
        headers = webhook_headers(
            delivery.alert.alert_id,
            body,
            self._secret.get_secret_value().encode(),
            timestamp=int(self._clock()),
            attempt=attempt,
        )
        response = await request(
            self._client, "POST", self._url.get_secret_value(), content=body, headers=headers
        )
        raise_for_answer(response)
        return Receipt(f"HTTP {response.status_code}", status=response.status_code)

    async def aclose(self) -> None:
        await self._client.aclose()
