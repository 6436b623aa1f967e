"""The delivery records on Kafka: written after each settled delivery, read back at start.

See :mod:`services.dispatcher.records` for what a record says. This is the IO half: a
reader that follows the whole compacted topic (no consumer group, every partition) into
a :class:`~services.dispatcher.records.DeliveredIndex`, a writer that waits for the
broker's ack before the delivery counts as recorded, :func:`replay_horizon_s`, how
long the index must hold a pair, and the topic's configuration, which deletes records
after that (:func:`delivered_topic_config`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pydantic import ValidationError

from services.common.kafka import encode, make_consumer, send_with_deadline
from services.common.topics import partition_counts
from services.dispatcher.records import DeliveredIndex, DeliveryRecord

__all__ = ["DeliveryLog", "delivered_topic_config", "replay_horizon_s"]

log = logging.getLogger(__name__)

# The broker deletes expired segments on a timer (log.retention.check.interval.ms, 5 min
# by default): a record can outlive retention.ms + segment.ms by that much.
_CHECK_MARGIN_S = 3600.0


async def replay_horizon_s(bootstrap_servers: str, topic: str) -> float | None:
    """How long after it was written a record of ``topic`` can still be read, in seconds;
    ``None`` when for good (``retention.ms`` -1, or compaction without ``delete``), or
    when the topic cannot be described.

    Kafka deletes whole segments, each once its newest record is older than
    ``retention.ms``, and closes a segment ``segment.ms`` after it opened at the latest:
    so ``retention.ms + segment.ms`` (7 + 7 days by default), plus a margin for the
    broker's retention timer.
    """
    names = ("retention.ms", "segment.ms", "cleanup.policy")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="kitestream-setup")
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=dict.fromkeys(names))
        responses = await admin.describe_configs([resource])
    finally:
        await admin.close()
    found: dict[str, str] = {}
    for response in responses:
        for entry in response.to_object()["resources"]:
            if entry["error_code"] == 0:
                found |= {c["config_names"]: c["config_value"] for c in entry["config_entries"]}
    if not found or "delete" not in found.get("cleanup.policy", "delete"):
        return None
    retention_ms = int(found.get("retention.ms", "-1"))
    if retention_ms < 0:
        return None
    return (retention_ms + int(found.get("segment.ms", "0"))) / 1000 + _CHECK_MARGIN_S


def delivered_topic_config(retention_s: float | None) -> dict[str, str]:
    """The delivery records' topic: compacted (one record per alert and sink), and where
    the index forgets a pair after ``retention_s``, deleted after that too."""
    if retention_s is None:
        return {"cleanup.policy": "compact"}
    return {"cleanup.policy": "compact,delete", "retention.ms": str(math.ceil(retention_s * 1000))}


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
        self.index = DeliveredIndex()  # its retention_s is set before start()
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
        self.index.advance(time.time())  # records older than the retention are left out
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
