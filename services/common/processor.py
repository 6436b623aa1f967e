"""Effectively-once stream processing on Kafka transactions, with per-partition state.

A :class:`StreamProcessor` runs one consumer group over co-partitioned input topics and
hands every record of partition *i* (of any input) to the :class:`PartitionTask` for
*i*. Each batch is one Kafka transaction holding the task's outputs, its changelog
writes and the input offsets::

    getmany ──▶ restore new partitions ──▶ begin ──▶ process… ──▶ send offsets ──▶ commit
       ▲                                                                            │
       └────────────────────────────────────────────────────────────────────────────┘

A crash anywhere before ``commit`` aborts the transaction (the broker does so when the
restarted producer with the same ``transactional_id`` fences the old one): no output,
changelog record or offset of that batch becomes visible to ``read_committed`` readers,
and the batch is processed again from state restored out of the changelog. A crash
after ``commit`` loses nothing. So every output and every state change happens once.

State lives in memory, one task per assigned partition number, and is rebuilt from
changelog partition *i* (compacted) whenever partition *i* is newly assigned, before
the task sees any record. A task that raises for one record produces a dead letter
instead, in the same transaction, and processing goes on.

Known limit: aiokafka's ``send_offsets_to_transaction`` carries the group id but not
the generation (KIP-447), so a member that stalls past the session timeout and then
commits could still write once more after losing its partitions. Outputs therefore
carry deterministic ids (``alert_id``, ``event_id``) and downstream dedupes: a second
line, not the first.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from time import monotonic as loop_time
from typing import Any, NamedTuple, Protocol, runtime_checkable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError, ProducerFenced
from aiokafka.structs import TopicPartition

from schemas.deadletter import DeadLetter
from services.common.kafka import make_consumer, make_producer
from services.common.metrics import ProcessorMetrics
from services.common.topics import partition_counts

__all__ = [
    "BatchingTask",
    "Output",
    "PartitionTask",
    "ProcessorError",
    "Record",
    "StreamProcessor",
]

log = logging.getLogger(__name__)


class ProcessorError(Exception):
    """The processor cannot go on (fenced by a newer instance, inputs not co-partitioned)."""


class Record(NamedTuple):
    """One input message (a named tuple: one is made per input record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class Output(NamedTuple):
    """One message to produce inside the batch's transaction."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class PartitionTask(Protocol):
    """State and logic for one input partition number."""

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Replay one changelog record (oldest first), before any :meth:`process`."""

    def process(self, record: Record) -> list[Output]:
        """Handle one record; return what to produce, changelog records included."""


@runtime_checkable
class BatchingTask(PartitionTask, Protocol):
    """A task that buffers (e.g. coalesces changelog writes per key) within a batch."""

    def flush(self) -> list[Output]:
        """Called once per batch, after the task's last :meth:`process`, before commit."""


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Keeps the tasks in step with the partitions this member owns.

    aiokafka calls this from its coordinator task, which runs beside the main loop: a
    rebalance can start while a batch is half-way through its transaction. Revocation
    therefore waits until the batch in hand has committed or aborted; otherwise the
    new owner would read offsets from before that batch and process it a second time.
    The wait cannot deadlock: a batch never waits on the consumer's group coordinator
    (offsets go through the producer's transaction). Assignment awaits nothing;
    restoring happens in the main loop.
    """

    def __init__(self, processor: StreamProcessor) -> None:
        self.processor = processor

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.processor._idle.wait()
        log.debug("revoked %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.processor._assigned({tp.partition for tp in assigned})


class StreamProcessor:
    """A consume-process-produce loop over co-partitioned inputs; see the module docs."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        input_topics: list[str],
        task_factory: Callable[[int], PartitionTask],
        changelog_topic: str | None,
        dlq_topic: str,
        service: str,
        instance_id: str,
        max_batch: int = 500,
        restore_timeout_s: float = 120.0,
        fetch_max_wait_ms: int = 50,
        metrics: ProcessorMetrics | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.input_topics = list(input_topics)
        self.task_factory = task_factory
        self.changelog_topic = changelog_topic
        self.dlq_topic = dlq_topic
        self.service = service
        self.transactional_id = f"{group_id}-{instance_id}"
        self.max_batch = max_batch
        self.restore_timeout_s = restore_timeout_s
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._m = (metrics or ProcessorMetrics()).labels(service)
        self.tasks: dict[int, PartitionTask] = {}
        self._pending: set[int] = set()
        self._idle = asyncio.Event()  # clear while a batch is between getmany and commit
        self._idle.set()
        self.processed = 0
        self.dead_letters = 0
        self.transactions = 0

    # -- assignment -----------------------------------------------------------------

    def _assigned(self, partitions: set[int]) -> None:
        for lost in set(self.tasks) - partitions:
            del self.tasks[lost]
        self._pending = partitions - set(self.tasks)
        self._m["partitions"].set(len(partitions))
        log.info(
            "%s owns partitions %s (%d to restore)",
            self.service,
            sorted(partitions),
            len(self._pending),
        )

    async def _restore_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending = sorted(self._pending), set()
        fresh = {p: self.task_factory(p) for p in pending}
        if self.changelog_topic is not None:
            await self._replay_changelog(fresh)
        self.tasks.update(fresh)

    async def _replay_changelog(self, tasks: dict[int, PartitionTask]) -> None:
        assert self.changelog_topic is not None
        restorer = make_consumer(self.bootstrap_servers, group_id=None, client_id="restore")
        await restorer.start()
        try:
            tps = [TopicPartition(self.changelog_topic, p) for p in tasks]
            restorer.assign(tps)
            await restorer.seek_to_beginning(*tps)
            ends: dict[TopicPartition, int] = await restorer.end_offsets(tps)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.restore_timeout_s
            count = 0
            while await _behind(restorer, ends):
                if loop.time() > deadline:
                    raise ProcessorError(
                        f"restoring {self.changelog_topic} took over {self.restore_timeout_s}s"
                    )
                batch = await restorer.getmany(timeout_ms=200, max_records=5000)
                for tp, records in batch.items():
                    task = tasks[tp.partition]
                    for r in records:
                        if r.offset < ends[tp] and r.key is not None:
                            task.restore(r.key, r.value)
                            count += 1
            self._m["restored"].inc(count)
            log.info("restored %d changelog records for partitions %s", count, sorted(tasks))
        finally:
            await restorer.stop()

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; the batch in hand is committed first."""
        producer = make_producer(
            self.bootstrap_servers, client_id=self.service, transactional_id=self.transactional_id
        )
        consumer = make_consumer(
            self.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.service,
            max_poll_records=self.max_batch,
            co_partitioned=True,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            max_partition_fetch_bytes=_fetch_bytes(self.max_batch),
        )
        await producer.start()
        try:
            await consumer.start()
            try:
                await self._check_co_partitioned()
                consumer.subscribe(self.input_topics, listener=_Assignment(self))
                await self._loop(consumer, producer, stop)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def _check_co_partitioned(self) -> None:
        counts = await partition_counts(self.bootstrap_servers, self.input_topics)
        missing = [topic for topic, count in counts.items() if count == 0]
        if missing:
            raise ProcessorError(f"input topics do not exist: {missing}")
        if len(set(counts.values())) > 1:
            raise ProcessorError(f"input topics must have equal partition counts: {counts}")

    async def _loop(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
            self._idle.clear()  # no await since getmany: a revocation now waits for us
            try:
                committed = await self._handle(producer, batch)
            finally:
                self._idle.set()
            if not committed:
                await self._rewind(consumer)

    async def _handle(
        self, producer: AIOKafkaProducer, batch: dict[TopicPartition, list[Any]]
    ) -> bool:
        """Restore new partitions, then process and commit ``batch``; False if aborted."""
        await self._restore_pending()
        if not batch:
            return True
        started = loop_time()
        try:
            await self._commit_batch(producer, batch)
        except ProducerFenced as exc:
            raise ProcessorError(
                f"fenced: another instance uses transactional id {self.transactional_id}"
            ) from exc
        except KafkaError as exc:
            log.warning("transaction failed (%s); rewinding to the last commit", exc)
            self._m["aborted"].inc()
            await _abort_quietly(producer)
            return False
        self._m["batch_seconds"].observe(loop_time() - started)
        return True

    async def _commit_batch(
        self, producer: AIOKafkaProducer, batch: dict[TopicPartition, list[Any]]
    ) -> None:
        await producer.begin_transaction()
        offsets: dict[TopicPartition, int] = {}
        touched: dict[int, PartitionTask] = {}
        for tp, records in batch.items():
            task = touched[tp.partition] = self.tasks[tp.partition]
            process = task.process
            for raw in records:
                record = Record(
                    raw.topic, raw.partition, raw.offset, raw.key, raw.value, raw.timestamp
                )
                try:
                    outputs = process(record)
                except Exception as exc:  # one poison record must not stop the stream
                    outputs = [self._dead_letter(record, exc)]
                if outputs:
                    await _send_all(producer, outputs)
            offsets[tp] = records[-1].offset + 1
        for task in touched.values():
            if isinstance(task, BatchingTask):
                await _send_all(producer, task.flush())
        await producer.send_offsets_to_transaction(offsets, self.group_id)
        await producer.commit_transaction()
        count = sum(len(records) for records in batch.values())
        self.transactions += 1
        self.processed += count
        self._m["committed"].inc()
        self._m["records"].inc(count)

    def _dead_letter(self, record: Record, exc: Exception) -> Output:
        self.dead_letters += 1
        self._m["dead_letters"].inc()
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc
        )
        letter = DeadLetter(
            service=self.service,
            error="".join(traceback.format_exception_only(exc)).strip()[:2000],
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            key=record.key.decode(errors="replace") if record.key is not None else None,
            value=record.value.decode(errors="replace")[:100_000]
            if record.value is not None
            else None,
            at=datetime.now(UTC),
        )
        return Output(self.dlq_topic, record.key, letter.to_json())

    async def _rewind(self, consumer: AIOKafkaConsumer) -> None:
        """After an aborted batch: drop in-memory state, go back to committed offsets."""
        owned = {tp.partition for tp in consumer.assignment()}
        self.tasks.clear()
        self._pending = owned
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)


def _fetch_bytes(max_batch: int) -> int:
    """One fetch per partition holds a whole batch of records of up to 1 KiB (1 MiB at
    least, aiokafka's default): a batch is never more than one fetch, and each batch
    is a transaction with a few broker round trips, so bigger batches go faster."""
    return max(1024 * 1024, max_batch * 1024)


async def _send_all(producer: AIOKafkaProducer, outputs: list[Output]) -> None:
    for out in outputs:
        await producer.send(out.topic, out.value, key=out.key, partition=out.partition)


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """True while any partition's position is short of its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def _abort_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await producer.abort_transaction()
    except KafkaError as exc:
        log.warning("abort failed too: %s", exc)
