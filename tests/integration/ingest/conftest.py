"""A receiver with every ingest credential configured, on the real test broker.

``ingest`` runs the app in-process (lifespan and all, as the receiver's own tests do;
the clients are ``tests/unit/receiver/clients.py``); ``receiver_url``
(tests/integration/conftest.py) starts ``kitestream receiver`` as a subprocess with the
same credentials, for clients that need a real HTTP server (the real test collector).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TypeAlias

import pytest
from aiokafka.structs import ConsumerRecord

from services.common.kafka import make_consumer
from services.common.topics import Topic, Topics
from tests.kafka_io import message_counts
from tests.unit.receiver.clients import (
    IngestReceiver,
    ingest_settings,
    running,
)

INGEST_TOPICS = (Topic.TEST_RESULTS, Topic.DEPLOYS, Topic.INCIDENTS)
EVERY_TOPIC = (*INGEST_TOPICS, Topic.BUILDS, Topic.JOBS, Topic.AGENTS)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


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
    """Messages written to each topic so far (they start empty)."""
    counts = await message_counts(bootstrap, [topics.name(t) for t in which])
    return {t: counts[topics.name(t)] for t in which}
