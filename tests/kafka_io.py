"""Kafka for tests, one set: write inputs as a producer would, read what the services
wrote the way a subscriber would (committed data only)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka import make_consumer, make_producer

__all__ = [
    "committed_reader",
    "message_counts",
    "partitions",
    "produce",
    "read_topic",
    "read_until",
]

T = TypeVar("T")


async def produce(
    bootstrap: str,
    messages: Iterable[tuple[str, bytes | None, bytes | None]],
    deadline_s: float = 10.0,
) -> None:
    """Send every ``(topic, key, value)`` in order and wait until Kafka has them all
    (``acks=all``); ``TimeoutError`` after ``deadline_s`` (an idempotent send never
    times out by itself)."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, value, key=key)
        await asyncio.wait_for(producer.flush(), deadline_s)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def committed_reader(bootstrap: str, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A group-less ``read_committed`` consumer of ``topic`` from its beginning."""
    consumer = make_consumer(bootstrap, topic, group_id=None, read_committed=True)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_until(
    consumer: AIOKafkaConsumer,
    seen: list[T],
    count: int,
    timeout_s: float,
    convert: Callable[[Any], T],
) -> list[T]:
    """Append ``convert(record)`` to ``seen`` until it holds ``count`` or time runs out.

    Call it again with a higher ``count`` and a short timeout to check that nothing
    more (a duplicate) arrives.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(seen) < count and loop.time() < deadline:
        batch = await consumer.getmany(timeout_ms=300)
        for records in batch.values():
            seen.extend(convert(r) for r in records)
    return seen


async def read_topic(
    bootstrap: str, topic: str, count: int, timeout_s: float = 20
) -> list[tuple[bytes | None, bytes | None]]:
    """The first ``count`` records (key, value) of ``topic``, over all partitions;
    ``TimeoutError`` when fewer arrive in ``timeout_s``."""
    async with committed_reader(bootstrap, topic) as consumer:
        got = await read_until(consumer, [], count, timeout_s, lambda r: (r.key, r.value))
    if len(got) < count:
        raise TimeoutError(f"{len(got)} of {count} records on {topic} after {timeout_s}s")
    return got


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


async def message_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    """Messages written to each topic so far, by name (the sum of its end offsets:
    right for topics that started empty)."""
    parts = await partitions(bootstrap, names)
    consumer = make_consumer(bootstrap, group_id=None, read_committed=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    counts = dict.fromkeys(names, 0)
    for part, end in ends.items():
        counts[part.topic] += end
    return counts
