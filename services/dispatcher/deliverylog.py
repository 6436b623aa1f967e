"""The delivery records on Kafka: written after each settled delivery, read back at start.

See :mod:`services.dispatcher.records` for what a record says. This is the IO half: a
reader that follows the whole compacted topic (no consumer group, every partition) into
a :class:`~services.dispatcher.records.DeliveredIndex`, and a writer that waits for the
broker's ack before the delivery counts as recorded.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from services.common.kafka import encode, make_consumer, send_with_deadline
from services.common.topics import partition_counts
from services.dispatcher.records import DeliveredIndex, DeliveryRecord

__all__ = ["DeliveryLog"]

log = logging.getLogger(__name__)


class DeliveryLog:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        producer: AIOKafkaProducer,
        *,
        client_id: str = "kitestream-dispatcher",
        send_deadline_s: float = 10.0,
    ) -> None:
        self.topic = topic
        self.index = DeliveredIndex()
        self._producer = producer
        self._send_deadline_s = send_deadline_s
        self._consumer: AIOKafkaConsumer = make_consumer(
            bootstrap_servers, group_id=None, client_id=f"{client_id}-records"
        )
        self._partitions: list[TopicPartition] = []
        self._bootstrap_servers = bootstrap_servers

    async def start(self, timeout_s: float = 60.0) -> None:
        """Assign every partition of the topic from the beginning, and read up to its end."""
        count = await self._partition_count(timeout_s)
        self._partitions = [TopicPartition(self.topic, n) for n in range(count)]
        await self._consumer.start()
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        await self.catch_up(timeout_s)
        log.info("read %d delivery records from %s", len(self.index), self.topic)

    async def _partition_count(self, timeout_s: float) -> int:
        """How many partitions the topic has, once the brokers describe it (a new topic's
        metadata can take a moment to reach every broker)."""
        async with asyncio.timeout(timeout_s):
            while True:
                count = (await partition_counts(self._bootstrap_servers, [self.topic]))[self.topic]
                if count:
                    return count
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def catch_up(self, timeout_s: float = 60.0) -> None:
        """Read every record written up to now (the end offsets at the time of the call)."""
        async with asyncio.timeout(timeout_s):
            ends = await self._consumer.end_offsets(self._partitions)
            behind = set(self._partitions)
            while behind:
                batches = await self._consumer.getmany(*behind, timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._apply(record.value)
                for tp in list(behind):
                    if await self._consumer.position(tp) >= ends[tp]:
                        behind.discard(tp)

    def _apply(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            self.index.add(DeliveryRecord.model_validate_json(value))
        except ValidationError:
            log.warning("skipping an unreadable delivery record on %s", self.topic)

    async def write(self, record: DeliveryRecord) -> None:
        """Write ``record`` and wait for the broker's ack; then the index holds it too."""
        await send_with_deadline(
            self._producer,
            self.topic,
            encode(record),
            key=record.key(),
            deadline_s=self._send_deadline_s,
        )
        self.index.add(record)
