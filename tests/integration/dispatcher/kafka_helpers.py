"""Running the dispatcher in the test's event loop against the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka import make_consumer, make_producer, send_with_deadline
from services.common.topics import Topic, Topics
from services.dispatcher.cli import wire
from services.dispatcher.service import Dispatcher
from services.dispatcher.settings import DispatcherSettings

__all__ = ["committed_offsets", "dispatching", "produce", "read_topic", "settings_for"]


def settings_for(
    bootstrap: str, topics: Topics, routes: dict[str, Any], directory: Path, **overrides: Any
) -> DispatcherSettings:
    path = directory / f"routes-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(routes))
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "topic_prefix": topics.prefix,
        "routes": path,
        "group_id": f"dispatcher-{uuid.uuid4().hex[:8]}",
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.1,
        "max_attempts": 3,
        "commit_interval_s": 0.1,
        "shutdown_grace_s": 5,
        "connect_timeout_s": 2,
        "read_timeout_s": 5,
        **overrides,
    }
    return DispatcherSettings(**values)


@asynccontextmanager
async def dispatching(
    settings: DispatcherSettings, environ: Mapping[str, str]
) -> AsyncIterator[Dispatcher]:
    _, sinks, router = wire(settings, environ)
    dispatcher = Dispatcher(settings, sinks, router)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def produce(bootstrap: str, topic: str, items: Sequence[tuple[str | None, bytes]]) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for key, value in items:
            await send_with_deadline(
                producer, topic, value, key=None if key is None else key.encode(), deadline_s=10
            )
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, count: int, timeout_s: float = 20
) -> list[tuple[bytes | None, bytes | None]]:
    """The first ``count`` records (key, value) of ``topic``, over all partitions."""
    consumer = make_consumer(bootstrap, topic, group_id=None)
    await consumer.start()
    got: list[tuple[bytes | None, bytes | None]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                batches = await consumer.getmany(timeout_ms=200)
                got.extend((r.key, r.value) for rs in batches.values() for r in rs)
    finally:
        await consumer.stop()
    return got


async def committed_offsets(bootstrap: str, topics: Topics, group_id: str) -> dict[int, int]:
    """The group's committed offset per partition of ``alerts`` (absent: none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    topic = topics.name(Topic.ALERTS)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
