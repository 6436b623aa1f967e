"""Reading what the services wrote, the way a subscriber would (committed data only)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from services.common.kafka import make_consumer

__all__ = ["committed_reader", "read_until"]

T = TypeVar("T")


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
