"""A receiver with every ingest credential configured, on the real test broker.

``ingest`` runs the app in-process (lifespan and all, as the receiver's own tests do);
``receiver_env`` gives ``receiver_url`` (tests/integration/conftest.py) the same
credentials for ``kitestream receiver`` as a subprocess, for clients that need a real
HTTP server (the real test collector).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import httpx
import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr

from services.common.kafka import make_consumer
from services.common.topics import Topic, Topics
from services.ingest.pagerduty import sign
from tests.integration.receiver.conftest import (
    TOKEN,
    Receiver,
    make_settings,
    partitions,
    running,
)

SUITES = {
    "payments-pytest": "suite-tok-py",
    "web-jest": "suite-tok-js",
    "ledger-rspec": "suite-tok-rb",
}
PAGERDUTY_SECRETS = ("whsec-new-8d2f", "whsec-old-1c7a")
API_TOKENS = ("api-tok-current", "api-tok-previous")
INGEST_TOPICS = (Topic.TEST_RESULTS, Topic.DEPLOYS, Topic.INCIDENTS)
EVERY_TOPIC = (*INGEST_TOPICS, Topic.BUILDS, Topic.JOBS, Topic.AGENTS)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass
class IngestReceiver:
    """The in-process receiver and a client that speaks each source's auth."""

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
        header = signature if signature is not None else ",".join(sign(body, s) for s in secrets)
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


def ingest_settings(bootstrap: str, topics: Topics, spool_dir: Path, **overrides: Any) -> Any:
    return make_settings(
        bootstrap,
        topics,
        spool_dir,
        test_suites={suite: SecretStr(token) for suite, token in SUITES.items()},
        pagerduty_secrets=[SecretStr(s) for s in PAGERDUTY_SECRETS],
        api_tokens=[SecretStr(t) for t in API_TOKENS],
        **overrides,
    )


@pytest.fixture
async def ingest(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> AsyncIterator[IngestReceiver]:
    settings = ingest_settings(kafka_bootstrap, kafka_topics, tmp_path / "spool")
    async with running(settings) as receiver:
        yield IngestReceiver(receiver)


async def read_topic(
    bootstrap: str, topics: Topics, topic: Topic, at_least: int, timeout_s: float = 30
) -> list[Record]:
    """Every message on ``topic``, once at least ``at_least`` are there."""
    consumer = make_consumer(bootstrap, topics.name(topic), group_id=None, read_committed=False)
    await consumer.start()
    records: list[Record] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < at_least:
                for part in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(part)
            for part in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def count_messages(
    bootstrap: str, topics: Topics, which: Sequence[Topic] = EVERY_TOPIC
) -> dict[Topic, int]:
    """Messages written to each topic so far (they start empty: the end offsets)."""
    names = {topics.name(t): t for t in which}
    parts = await partitions(bootstrap, list(names))
    consumer = make_consumer(bootstrap, group_id=None, read_committed=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    counts = dict.fromkeys(which, 0)
    for part, end in ends.items():
        counts[names[part.topic]] += end
    return counts


@pytest.fixture
def receiver_env() -> dict[str, str]:
    """Every ingest credential, for ``receiver_url`` (tests/integration/conftest.py)."""
    return {
        "KITESTREAM_BUILDKITE_TOKENS": TOKEN,
        "KITESTREAM_TEST_SUITES": ",".join(f"{s}={t}" for s, t in SUITES.items()),
        "KITESTREAM_PAGERDUTY_SECRETS": ",".join(PAGERDUTY_SECRETS),
        "KITESTREAM_API_TOKENS": ",".join(API_TOKENS),
    }
