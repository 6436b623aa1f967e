"""Where reconcile and backfill got to, on a compacted topic of their own.

``kitestream.reconcile-checkpoints`` (under ``Topics.internal``, compacted) holds one
record per scope, the last one wins::

    key   reconcile:<org>[:<pipeline>,…]     value {"through": "2026-08-01T10:00:00Z"}
    key   backfill:<org>:<pipeline or *>     value {"through": …}

``through`` means: every finished event of that scope before it has been published
(or was there already). A checkpoint is written only after Kafka acked what it covers.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from services.common.kafka import make_consumer, send_with_deadline
from services.common.topics import Topics, TopicSpec, partition_counts
from services.receiver.buildkite_payload import parse_timestamp

__all__ = ["CHECKPOINT_TOPIC", "Checkpoints", "checkpoint_spec"]

CHECKPOINT_TOPIC = "reconcile-checkpoints"  # under Topics.internal()


def checkpoint_spec(topics: Topics) -> TopicSpec:
    return TopicSpec(topics.internal(CHECKPOINT_TOPIC), {"cleanup.policy": "compact"})


class Checkpoints:
    """Read every scope's checkpoint once, then write new ones through ``producer``."""

    def __init__(self, topic: str, producer: AIOKafkaProducer, deadline_s: float) -> None:
        self.topic = topic
        self.producer = producer
        self.deadline_s = deadline_s
        self.known: dict[str, datetime] = {}

    async def load(self, bootstrap_servers: str, *, timeout_s: float = 60.0) -> None:
        count = (await partition_counts(bootstrap_servers, [self.topic]))[self.topic]
        partitions = [TopicPartition(self.topic, p) for p in range(count)]
        if not partitions:
            return
        consumer = make_consumer(bootstrap_servers, group_id=None, read_committed=True)
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            todo = {tp: end for tp, end in ends.items() if end > 0}
            async with asyncio.timeout(timeout_s):
                while todo:
                    batch = await consumer.getmany(*todo, timeout_ms=500)
                    for records in batch.values():
                        for record in records:
                            self._take(record.key, record.value)
                    for tp in list(todo):
                        if await consumer.position(tp) >= todo[tp]:
                            del todo[tp]
        finally:
            await consumer.stop()

    def _take(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        scope = key.decode("utf-8", "replace")
        through = None
        if value is not None:
            try:
                through = parse_timestamp(orjson.loads(value).get("through"))
            except (orjson.JSONDecodeError, AttributeError):
                through = None
        if through is None:
            self.known.pop(scope, None)
        else:
            self.known[scope] = through

    def get(self, scope: str) -> datetime | None:
        return self.known.get(scope)

    async def save(self, scope: str, through: datetime) -> None:
        value = orjson.dumps({"through": through.isoformat().replace("+00:00", "Z")})
        await send_with_deadline(
            self.producer, self.topic, value, key=scope.encode(), deadline_s=self.deadline_s
        )
        self.known[scope] = through
