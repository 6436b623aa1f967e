"""Reading the store's tables back, and feeding it messages, for the store's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.kafka import make_producer
from services.common.topics import Topics, TopicSpec, create_topics
from services.store import tables
from services.store.service import DELIVERED_TOPIC
from tests.store_stream import Message, raw

__all__ = ["produce", "snapshot", "stored_offsets", "wait_for_offsets"]


def snapshot(engine: Engine, *, with_offsets: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order (sorted here: collations differ)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            if table is tables.store_offsets and not with_offsets:
                continue
            key = [c.name for c in table.primary_key.columns]
            rows = [dict(row) for row in conn.execute(sa.select(table)).mappings()]
            out[table.name] = sorted(rows, key=lambda row: [str(row[k]) for k in key])
    return out


def stored_offsets(engine: Engine) -> int:
    """The sum of stored next offsets: how many records the store has written."""
    with engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.sum(tables.store_offsets.c.next_offset)))
    return int(total or 0)


async def wait_for_offsets(engine: Engine, total: int, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while await asyncio.to_thread(stored_offsets, engine) < total:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)


async def produce(bootstrap: str, topics: Topics, messages: Iterable[Message]) -> int:
    """Send ``messages`` (the delivery records' topic made first); how many were sent."""
    delivered = TopicSpec(topics.name(DELIVERED_TOPIC), {"cleanup.policy": "compact"})
    await create_topics(bootstrap, [delivered], partitions=3)
    producer = make_producer(bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    sent = 0
    try:
        futures = []
        for topic, key, value in messages:
            futures.append(await producer.send(topics.name(topic), raw(value), key=key))
            sent += 1
        await asyncio.wait_for(asyncio.gather(*futures), 60)
    finally:
        await producer.stop()
    return sent
