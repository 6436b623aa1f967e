"""A receiver app running in-process (lifespan and all) on the real test broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr
from starlette.applications import Starlette

from services.common.kafka import make_consumer
from services.common.topics import Topic, Topics
from services.receiver.app import create_app
from services.receiver.settings import ReceiverSettings
from services.receiver.signature import sign

TOKEN = "bk-current-token-7f3a9c"
OLD_TOKEN = "bk-previous-token-2b8e41"


@dataclass
class Receiver:
    app: Starlette
    client: httpx.AsyncClient
    settings: ReceiverSettings
    topics: Topics

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


def make_settings(
    bootstrap: str, topics: Topics, spool_dir: Path, **overrides: Any
) -> ReceiverSettings:
    values: dict[str, Any] = {
        "buildkite_tokens": [SecretStr(TOKEN), SecretStr(OLD_TOKEN)],
        "bootstrap_servers": bootstrap,
        "topic_prefix": topics.prefix,
        "spool_dir": spool_dir,
        "produce_deadline_s": 5.0,
        **overrides,
    }
    return ReceiverSettings(**values)


@asynccontextmanager
async def running(
    settings: ReceiverSettings, clock: Callable[[], float] | None = None
) -> AsyncIterator[Receiver]:
    app = create_app(settings, clock=clock) if clock else create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            yield Receiver(app, client, settings, Topics(settings.topic_prefix))


@pytest.fixture
def receiver_settings(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> ReceiverSettings:
    return make_settings(kafka_bootstrap, kafka_topics, tmp_path / "spool")


@pytest.fixture
async def receiver(receiver_settings: ReceiverSettings) -> AsyncIterator[Receiver]:
    async with running(receiver_settings) as running_receiver:
        yield running_receiver


BUILDKITE_TOPICS = (Topic.BUILDS, Topic.JOBS, Topic.AGENTS)


async def partitions(bootstrap: str, names: list[str]) -> list[TopicPartition]:
    """Every partition of the topics ``names`` (which must all exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    parts = [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        for p in topic["partitions"]
    ]
    assert {p.topic for p in parts} == set(names), described
    return parts


async def count_messages(bootstrap: str, topics: Topics) -> int:
    """Messages written to the Buildkite topics (they start empty: the end offsets)."""
    names = [topics.name(t) for t in BUILDKITE_TOPICS]
    consumer = make_consumer(bootstrap, group_id=None, read_committed=False)
    await consumer.start()
    try:
        parts = await partitions(bootstrap, names)
        ends = await consumer.end_offsets(parts)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def read_all(
    bootstrap: str, topics: Topics, at_least: int, timeout_s: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message on the Buildkite topics, once at least ``at_least`` are there."""
    names = [topics.name(t) for t in BUILDKITE_TOPICS]
    consumer = make_consumer(bootstrap, *names, group_id=None, read_committed=False)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < at_least:
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    records.extend(part)
            # anything written after: one more short poll
            for part in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records
