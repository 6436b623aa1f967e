"""The receiver app in-process (lifespan and all) and clients that speak each source's
auth: used by the unit tests of its HTTP contract without a broker (:class:`NoBroker`)
and by the integration tests on the real one (the default link)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import SecretStr
from starlette.applications import Starlette

from services.common.topics import Topics
from services.ingest.pagerduty import sign as pagerduty_sign
from services.receiver.app import create_app, producer_link
from services.receiver.delivery import KafkaLink
from services.receiver.endpoints import AppContext
from services.receiver.errors import ProduceFailed
from services.receiver.frames import Outgoing
from services.receiver.metrics import Metrics
from services.receiver.settings import ReceiverSettings
from services.receiver.signature import sign

TOKEN = "bk-current-token-7f3a9c"
OLD_TOKEN = "bk-previous-token-2b8e41"
SUITES = {
    "payments-pytest": "suite-tok-py",
    "web-jest": "suite-tok-js",
    "ledger-rspec": "suite-tok-rb",
}
PAGERDUTY_SECRETS = ("whsec-new-8d2f", "whsec-old-1c7a")
API_TOKENS = ("api-tok-current", "api-tok-previous")

LinkMaker = Callable[[ReceiverSettings, Metrics], KafkaLink]


class NoBroker:
    """A Kafka link with no broker behind it: it never connects, so the receiver takes
    what it accepts into its (real) spool. For tests of the HTTP contract, which hold
    whatever the link below does; Kafka's own behaviour is the integration tests'."""

    def __init__(self, settings: ReceiverSettings, _metrics: Metrics) -> None:
        self.bootstrap_servers = settings.bootstrap_servers
        self.kafka_up = False

    @property
    def ready(self) -> bool:
        return False

    async def start(self, timeout_s: float = 5.0) -> bool:
        return False

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        raise ProduceFailed("no broker")

    async def recover(self) -> None:
        """Nothing to reconnect to."""

    async def close(self) -> None:
        """Nothing to flush."""


@dataclass
class Receiver:
    app: Starlette
    client: httpx.AsyncClient
    settings: ReceiverSettings
    topics: Topics

    @property
    def context(self) -> AppContext:
        """What the lifespan made (the delivery and its spool, the metrics)."""
        context: AppContext = self.app.state.context()
        return context

    def spooled(self) -> list[Outgoing]:
        """What the app accepted into its spool (all of it, on :class:`NoBroker`)."""
        return [record.message for record in self.context.delivery.spool.read(100_000)]

    async def post(
        self,
        payload: Any,
        *,
        token: str | None = TOKEN,
        event: str | None = None,
        signed_with: str | None = None,
        at: int | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> httpx.Response:
        """``POST /webhooks/buildkite`` with a token, or signed with ``signed_with``."""
        body = raw if raw is not None else orjson.dumps(payload)
        sent = {"content-type": "application/json"}
        if event is None and isinstance(payload, dict) and isinstance(payload.get("event"), str):
            event = payload["event"]
        if event is not None:
            sent["x-buildkite-event"] = event
        if signed_with is not None:
            stamp = at if at is not None else int(time.time())
            sent["x-buildkite-signature"] = sign(signed_with, stamp, body)
        elif token is not None:
            sent["x-buildkite-token"] = token
        sent.update(headers or {})
        return await self.client.post("/webhooks/buildkite", content=body, headers=sent)


def signed_webhook(payload: Any, event: str = "build.finished") -> tuple[bytes, dict[str, str]]:
    """A webhook's body and headers as Buildkite sends it, signed with ``TOKEN`` now."""
    body = orjson.dumps(payload)
    signature = sign(TOKEN, int(time.time()), body)
    headers = {
        "content-type": "application/json",
        "x-buildkite-event": event,
        "x-buildkite-signature": signature,
    }
    return body, headers


@dataclass
class IngestReceiver:
    """A receiver with every ingest credential configured (:func:`ingest_settings`)."""

    receiver: Receiver

    @property
    def bootstrap(self) -> str:
        return self.receiver.settings.bootstrap_servers

    @property
    def topics(self) -> Topics:
        return self.receiver.topics

    async def upload(
        self,
        body: bytes,
        *,
        token: str = SUITES["payments-pytest"],
        content_type: str = "application/json",
        quoted: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        auth = f'Token token="{token}"' if quoted else f"Token token={token}"
        sent = {"authorization": auth, "content-type": content_type, **(headers or {})}
        return await self.receiver.client.post("/v1/uploads", content=body, headers=sent)

    async def pagerduty(
        self,
        body: bytes,
        *,
        secrets: Sequence[str] = PAGERDUTY_SECRETS[:1],
        signature: str | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        header = (
            signature
            if signature is not None
            else ",".join(pagerduty_sign(body, s) for s in secrets)
        )
        sent = {"content-type": content_type, "x-pagerduty-signature": header}
        return await self.receiver.client.post("/webhooks/pagerduty", content=body, headers=sent)

    async def api(
        self,
        path: str,
        document: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = API_TOKENS[0],
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"content-type": "application/json"}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        body = raw if raw is not None else orjson.dumps(document)
        return await self.receiver.client.post(path, content=body, headers=sent)


def make_settings(
    bootstrap: str, topics: Topics, spool_dir: Path, **overrides: Any
) -> ReceiverSettings:
    """Buildkite tokens ``TOKEN`` and ``OLD_TOKEN``, the given broker, topics and spool."""
    values: dict[str, Any] = {
        "buildkite_tokens": [SecretStr(TOKEN), SecretStr(OLD_TOKEN)],
        "bootstrap_servers": bootstrap,
        "topic_prefix": topics.prefix,
        "spool_dir": spool_dir,
        "produce_deadline_s": 5.0,
        **overrides,
    }
    return ReceiverSettings(**values)


def ingest_settings(
    bootstrap: str, topics: Topics, spool_dir: Path, **overrides: Any
) -> ReceiverSettings:
    """:func:`make_settings` with every ingest credential: suites, PagerDuty, API tokens."""
    return make_settings(
        bootstrap,
        topics,
        spool_dir,
        test_suites={suite: SecretStr(token) for suite, token in SUITES.items()},
        pagerduty_secrets=[SecretStr(s) for s in PAGERDUTY_SECRETS],
        api_tokens=[SecretStr(t) for t in API_TOKENS],
        **overrides,
    )


def unit_settings(spool_dir: Path, **overrides: Any) -> ReceiverSettings:
    """:func:`ingest_settings` for a receiver on :class:`NoBroker` (no address used)."""
    return ingest_settings("no-broker:9092", Topics(), spool_dir, **overrides)


@asynccontextmanager
async def running(
    settings: ReceiverSettings,
    clock: Callable[[], float] | None = None,
    link: LinkMaker = producer_link,
) -> AsyncIterator[Receiver]:
    """The app of ``settings`` started (lifespan and all) with a client on it."""
    if clock is None:
        app = create_app(settings, link=link)
    else:
        app = create_app(settings, clock=clock, link=link)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            yield Receiver(app, client, settings, Topics(settings.topic_prefix))
