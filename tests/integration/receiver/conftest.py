"""A receiver app running in-process (lifespan and all) on the real test broker, and
readers of what it wrote. The app and its clients are ``tests/unit/receiver/clients.py``
(the unit tests run the same app without a broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.structs import ConsumerRecord

from services.common.kafka import make_consumer
from services.common.topics import Topic, Topics
from services.receiver.settings import ReceiverSettings
from tests.kafka_io import message_counts
from tests.unit.receiver.clients import Receiver, make_settings, running


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


async def count_messages(bootstrap: str, topics: Topics) -> int:
    """Messages written to the Buildkite topics (they start empty)."""
    counts = await message_counts(bootstrap, [topics.name(t) for t in BUILDKITE_TOPICS])
    return sum(counts.values())


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
