"""The Kafka clients the stream runtime uses, and the factory it gets them from.

:class:`~services.common.processor.StreamProcessor` never builds a client itself: it
asks its :class:`KafkaClients` (``clients=`` when it is made) for a transactional
producer, a group consumer over its inputs, a reader that replays the changelog, and
the partition counts of its inputs. The default builds aiokafka clients with the
project's settings (:mod:`services.common.kafka`). The protocols below are the whole
surface the runtime calls, so another factory can hand it other clients (a recording
producer in a test of dead-lettering, rewinds and fencing; another client library).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka.structs import TopicPartition

from services.common.kafka import make_consumer, make_producer
from services.common.topics import partition_counts

__all__ = [
    "ChangelogReader",
    "GroupConsumer",
    "KafkaClients",
    "Positioned",
    "TransactionalProducer",
    "unread",
]


class TransactionalProducer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def begin_transaction(self) -> None: ...
    async def send(
        self, topic: str, value: bytes | None, *, key: bytes | None, partition: int | None
    ) -> Any: ...
    async def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group_id: str
    ) -> None: ...
    async def commit_transaction(self) -> None: ...
    async def abort_transaction(self) -> None: ...


class GroupConsumer(Protocol):
    """A consumer in a group, reading committed records of the inputs."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def subscribe(self, topics: Sequence[str], *, listener: Any) -> None: ...
    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]: ...
    def assignment(self) -> set[TopicPartition]: ...
    async def committed(self, tp: TopicPartition) -> int | None: ...
    def seek(self, tp: TopicPartition, offset: int) -> None: ...
    async def seek_to_beginning(self, *tps: TopicPartition) -> Any: ...
    async def position(self, tp: TopicPartition) -> int: ...
    def last_stable_offset(self, tp: TopicPartition) -> int | None: ...


class Positioned(Protocol):
    """What :func:`unread` asks of a consumer (aiokafka's, or a :class:`GroupConsumer`)."""

    def assignment(self) -> set[TopicPartition]: ...
    async def position(self, tp: TopicPartition) -> int: ...
    def last_stable_offset(self, tp: TopicPartition) -> int | None: ...


async def unread(consumer: Positioned) -> dict[TopicPartition, int]:
    """Committed records not read yet, per partition ``consumer`` owns: its last stable
    offset less the consumer's position. A partition not fetched since it was assigned
    (no last stable offset yet) is left out; a caught-up one counts 0 once the fetch
    after its last records has moved the position past the commit marker."""
    lag: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        end = consumer.last_stable_offset(tp)
        if end is not None:
            lag[tp] = max(0, end - await consumer.position(tp))
    return lag


class ChangelogReader(Protocol):
    """A consumer outside any group that replays changelog partitions."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def assign(self, tps: Sequence[TopicPartition]) -> None: ...
    async def seek_to_beginning(self, *tps: TopicPartition) -> Any: ...
    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...
    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]: ...
    async def position(self, tp: TopicPartition) -> int: ...


Partitioner = Callable[[bytes | None, list[int], list[int]], int]


class KafkaClients:
    """Makes the runtime's clients for the brokers at ``bootstrap_servers`` (aiokafka).

    ``partitioner`` (default: aiokafka's) places the producer's keyed outputs that name
    no partition; it must place every key where aiokafka's default one does."""

    def __init__(self, bootstrap_servers: str, *, partitioner: Partitioner | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.partitioner = partitioner

    def producer(self, *, client_id: str, transactional_id: str) -> TransactionalProducer:
        """Idempotent, ``acks=all``, with ``transactional_id`` (a restart fences the old)."""
        producer: TransactionalProducer = make_producer(
            self.bootstrap_servers,
            client_id=client_id,
            transactional_id=transactional_id,
            partitioner=self.partitioner,
        )
        return producer

    def consumer(
        self, *, group_id: str, client_id: str, max_batch: int, fetch_max_wait_ms: int
    ) -> GroupConsumer:
        """Range-assigned (partition *i* of every input to one member), read_committed."""
        consumer: GroupConsumer = make_consumer(
            self.bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            max_poll_records=max_batch,
            co_partitioned=True,
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_partition_fetch_bytes=_fetch_bytes(max_batch),
        )
        return consumer

    def changelog_reader(self) -> ChangelogReader:
        reader: ChangelogReader = make_consumer(
            self.bootstrap_servers, group_id=None, client_id="restore"
        )
        return reader

    async def partition_counts(self, topics: list[str]) -> dict[str, int]:
        """Partitions per topic (0: the topic does not exist)."""
        return await partition_counts(self.bootstrap_servers, topics)


def _fetch_bytes(max_batch: int) -> int:
    """One fetch per partition holds a whole batch of records of up to 1 KiB (1 MiB at
    least, aiokafka's default): a batch is never more than one fetch, and each batch
    is a transaction with a few broker round trips, so bigger batches go faster."""
    return max(1024 * 1024, max_batch * 1024)
