"""What Kafka already has: the finished events on the topics' recent tail.

There is no separate index to keep in step: the topics themselves are the record.
An event that finished at ``t`` was produced at ``t`` or later (webhooks arrive after the
fact, the receiver's spool only delays them, and reconcile publishes later still), so
every message that can match an event finished since ``F`` sits at a Kafka timestamp
after ``F − margin`` (``margin`` absorbs clock skew between Buildkite and the brokers)::

    buildkite.jobs   … old … | F − margin ─────────────── end offsets (taken at start)
                               └─ offsets_for_times: read from here, keep the event ids
                                  of build.finished / job.finished, nothing else

It survives restarts (Kafka keeps it), it stays bounded (one look-back window of ids,
32 characters each), and it sees what any instance, the receiver, an earlier
interrupted backfill or another reconcile published.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka import make_consumer
from services.common.topics import partition_counts

__all__ = ["FINISHED", "seen_event_ids"]

log = logging.getLogger(__name__)

FINISHED = frozenset({"build.finished", "job.finished"})
_POLL_MS = 500


async def seen_event_ids(
    bootstrap_servers: str, topics: list[str], since: datetime, *, timeout_s: float = 120.0
) -> set[str]:
    """Event ids of the finished events on ``topics`` produced at ``since`` or later."""
    counts = await partition_counts(bootstrap_servers, topics)
    partitions = [TopicPartition(t, p) for t in topics for p in range(counts[t])]
    if not partitions:
        return set()
    consumer = make_consumer(bootstrap_servers, group_id=None, read_committed=True)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            dict.fromkeys(partitions, int(since.timestamp() * 1000))
        )
        todo: dict[TopicPartition, int] = {}
        for tp in partitions:
            found = starts.get(tp)
            start = ends[tp] if found is None else found.offset
            if start < ends[tp]:
                consumer.seek(tp, start)
                todo[tp] = ends[tp]
        return await asyncio.wait_for(_collect(consumer, todo), timeout_s)
    finally:
        await consumer.stop()


async def _collect(consumer: AIOKafkaConsumer, todo: dict[TopicPartition, int]) -> set[str]:
    seen: set[str] = set()
    while todo:
        batch = await consumer.getmany(*todo, timeout_ms=_POLL_MS)
        for records in batch.values():
            for record in records:
                event_id = _finished_id(record.value)
                if event_id is not None:
                    seen.add(event_id)
        for tp in list(todo):
            if await consumer.position(tp) >= todo[tp]:
                del todo[tp]
    return seen


def _finished_id(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or value.get("event") not in FINISHED:
        return None
    event_id = value.get("event_id")
    return event_id if isinstance(event_id, str) else None
