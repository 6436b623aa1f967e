"""Effectively-once stream processing on Kafka transactions, with per-partition state.

A :class:`StreamProcessor` runs one consumer group over co-partitioned input topics and
hands every record of partition *i* (of any input) to the :class:`PartitionTask` for
*i*. Each batch is one Kafka transaction holding the task's outputs, its changelog
writes and the input offsets; while a full batch or more waits, the next batch is
processed while the one before it commits::

    getmany ──▶ restore new partitions ──▶ process… ──▶ begin ──▶ send… ──▶ offsets ──▶ commit
       ▲                                                 (once the commit before has landed;
       └──────────────────────────────────────────────── under way while the next is processed)

The processing step (records through their tasks, dead letters, changes addressed to
the changelog) is :class:`~services.common.batch.BatchStep`, which needs no Kafka; the
clients come from a :class:`~services.common.clients.KafkaClients` given to the
processor, so both can be exercised apart from a broker. Between slices of a batch
the loop lets the commit under way read the broker's answers, so the broker's side
of a commit (on another core) costs the processor little time.

A crash anywhere before ``commit`` aborts the transaction (the broker does so when the
restarted producer with the same ``transactional_id`` fences the old one): no output,
changelog record or offset of that batch becomes visible to ``read_committed`` readers,
and the batch is processed again from state restored out of the changelog (with the
batch processed after it, whose transaction had not begun). A crash after ``commit``
loses nothing. So every output and every state change happens once.

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
import contextlib
import logging
from collections.abc import Callable
from time import monotonic as loop_time
from typing import Any

from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, ProducerFenced
from aiokafka.structs import TopicPartition

from services.common.batch import (
    SLICE,
    BatchingTask,
    BatchStep,
    Change,
    Output,
    PartitionTask,
    Record,
)
from services.common.clients import (
    ChangelogReader,
    GroupConsumer,
    KafkaClients,
    TransactionalProducer,
    unread,
)
from services.common.metrics import ProcessorMetrics
from services.common.trouble import GIVE_UP_AFTER_S, KafkaTrouble

__all__ = [
    "BatchStep",
    "BatchingTask",
    "Change",
    "KafkaClients",
    "Output",
    "PartitionTask",
    "ProcessorError",
    "Record",
    "StreamProcessor",
]

log = logging.getLogger(__name__)


class ProcessorError(Exception):
    """The processor cannot go on (fenced by a newer instance, inputs not co-partitioned)."""


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Keeps the tasks in step with the partitions this member owns.

    aiokafka calls this from its coordinator task, which runs beside the main loop: a
    rebalance can start while a batch is half-way through its transaction. Revocation
    therefore waits until the batch in hand and the commit under way have landed or
    aborted (the loop takes no further batch while it waits); otherwise the new owner
    would read offsets from before that batch and process it a second time.
    The wait cannot deadlock: a batch never waits on the consumer's group coordinator
    (offsets go through the producer's transaction). Assignment awaits nothing;
    restoring happens in the main loop.
    """

    def __init__(self, processor: StreamProcessor) -> None:
        self.processor = processor

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        processor = self.processor
        processor._revoked.clear()
        try:
            await processor._idle.wait()
        finally:
            processor._revoked.set()
        log.debug("revoked %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.processor._assigned({tp.partition for tp in assigned})


class StreamProcessor:
    """A consume-process-produce loop over co-partitioned inputs; see the module docs.

    ``clients`` makes its Kafka clients (default: aiokafka on ``bootstrap_servers``);
    :attr:`step` is the work on one batch between ``begin`` and ``commit``.
    """

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
        give_up_after_s: float = GIVE_UP_AFTER_S,
        fetch_max_wait_ms: int = 50,
        metrics: ProcessorMetrics | None = None,
        clients: KafkaClients | None = None,
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
        self.give_up_after_s = give_up_after_s
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.clients = clients or KafkaClients(bootstrap_servers)
        self._m = (metrics or ProcessorMetrics()).labels(service)
        self.step = BatchStep(
            service=service,
            dlq_topic=dlq_topic,
            changelog_topic=changelog_topic,
            on_dead_letter=self._m.dead_letters.inc,
        )
        self.tasks: dict[int, PartitionTask] = {}
        self._pending: set[int] = set()
        self._idle = asyncio.Event()  # clear from getmany until the batch's commit lands
        self._idle.set()
        self._holding = False  # a batch is between getmany and the start of its commit
        self._committing: asyncio.Future[None] | None = None  # the commit under way
        self._unlanded = 0  # batches fetched whose commits have not landed
        self._revoked = asyncio.Event()  # clear while a revocation waits for _idle
        self._revoked.set()
        self.processed = 0
        self.transactions = 0

    @property
    def dead_letters(self) -> int:
        return self.step.dead_letters

    # -- assignment -----------------------------------------------------------------

    def _assigned(self, partitions: set[int]) -> None:
        for lost in set(self.tasks) - partitions:
            del self.tasks[lost]
        self._pending = partitions - set(self.tasks)
        self._m.partitions.set(len(partitions))
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
            try:
                await self._replay_changelog(fresh)
            except BaseException:
                self._pending.update(pending)  # (still to restore: the next batch tries again)
                raise
        self.tasks.update(fresh)

    async def _replay_changelog(self, tasks: dict[int, PartitionTask]) -> None:
        assert self.changelog_topic is not None
        restorer = self.clients.changelog_reader()
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
            self._m.restored.inc(count)
            log.info("restored %d changelog records for partitions %s", count, sorted(tasks))
        finally:
            await restorer.stop()

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; the batch in hand is committed first.

        The inputs are checked before any client opens, and each client is stopped even
        when its ``start`` was interrupted (a sibling stage failing cancels this one
        mid-start: without the stop, its half-open connections leak)."""
        await self._check_co_partitioned()
        async with contextlib.AsyncExitStack() as clients:
            producer = self.clients.producer(
                client_id=self.service, transactional_id=self.transactional_id
            )
            clients.push_async_callback(producer.stop)
            await producer.start()
            consumer = self.clients.consumer(
                group_id=self.group_id,
                client_id=self.service,
                max_batch=self.max_batch,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
            )
            clients.push_async_callback(consumer.stop)
            await consumer.start()
            consumer.subscribe(self.input_topics, listener=_Assignment(self))
            await self._loop(consumer, producer, stop)

    async def _check_co_partitioned(self) -> None:
        counts = await self.clients.partition_counts(self.input_topics)
        missing = [topic for topic, count in counts.items() if count == 0]
        if missing:
            raise ProcessorError(f"input topics do not exist: {missing}")
        if len(set(counts.values())) > 1:
            raise ProcessorError(f"input topics must have equal partition counts: {counts}")

    async def _loop(
        self, consumer: GroupConsumer, producer: TransactionalProducer, stop: asyncio.Event
    ) -> None:
        """Batch after batch, each processed while the one before it commits. A Kafka
        error anywhere (a commit aborted, a leader or group coordinator moving while the
        consumer fetches, restores or rewinds) is met by a pause and another try, after
        a rewind to the last commit when the state may have got ahead of it (a failed
        fetch with no commit under way hands out nothing), until Kafka has failed for
        ``give_up_after_s`` on end: then the processor stops with
        :class:`~services.common.trouble.KafkaGaveUp` and its supervisor restarts it with
        fresh clients (:mod:`services.common.trouble`)."""
        trouble = KafkaTrouble(self.service, self.give_up_after_s)
        rewind = False  # True once an error met the state ahead of the last commit
        try:
            while not stop.is_set():
                landed = self.transactions
                try:
                    if rewind:
                        await self._rewind(consumer, producer)
                        rewind = False
                    batch = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                    self._holding = True
                    self._idle.clear()  # no await since getmany: a revocation now waits for us
                    try:
                        await self.handle(producer, batch)
                    finally:
                        self._holding = False
                        if self._committing is None or self._committing.done():
                            self._idle.set()
                    if not self._revoked.is_set():  # a rebalance waits: let it go first
                        await self._landed(producer)
                        self._idle.set()
                        await self._revoked.wait()
                    lag = sum((await unread(consumer)).values())
                    self._m.lag.set(lag)
                    if lag < self.max_batch:  # no full batch waits: land this one first
                        await self._landed(producer)
                except KafkaError as exc:
                    rewind = rewind or self._unlanded > 0
                    await trouble.wait_after(exc)
                else:
                    if self.transactions > landed or not self._unlanded:
                        trouble.over()  # (not while the turn's only news is a commit begun)
        except BaseException:
            # cancelled, or giving up: the commit under way is dropped with the clients
            # (the broker aborts its transaction when the next instance fences this one)
            if self._committing is not None:
                self._committing.cancel()
            raise
        await self._settle(producer)

    async def handle(
        self, producer: TransactionalProducer, batch: dict[TopicPartition, list[Any]]
    ) -> None:
        """Restore new partitions, then process ``batch`` (what ``getmany`` returned)
        and start its commit once the commit before it has landed; a Kafka error of
        that commit (its transaction aborted) is raised for the caller to rewind.

        While a full batch or more waits (the loop reads the lag after each batch) the
        commit and the processing of the next batch overlap: the broker answers the
        transaction's requests while the tasks work (on another core), and a batch's
        outputs go out only in a transaction begun after the one before it committed,
        so outputs stay in batch order and a failed commit still rewinds everything
        after the last commit that landed. Otherwise the commit lands before the next
        fetch: with small batches the overlap gains nothing, and the system
        benchmark's alerts looked slower with it (p50 66–85 ms in three runs against
        35–47 ms in two)."""
        if batch:  # from here the consumer's position is ahead of the last commit
            self._unlanded += 1
        if self._pending:  # a restore reads committed changelog: let ours land first
            await self._landed(producer)
        await self._restore_pending()
        if not batch:
            await self._landed(producer)
            return
        started = loop_time()
        outputs = await self._outputs(batch)
        offsets = {tp: raw[-1].offset + 1 for tp, raw in batch.items()}
        count = sum(len(raw) for raw in batch.values())
        await self._landed(producer)
        self._committing = asyncio.ensure_future(
            self._commit(producer, outputs, offsets, count, started)
        )
        self._committing.add_done_callback(self._committed)

    async def _outputs(self, batch: dict[TopicPartition, list[Any]]) -> list[Output]:
        """The batch through its tasks, a slice at a time: between slices the commit
        under way, if any, gets the event loop to read the broker's answers."""
        step, tasks = self.step, self.tasks
        out: list[Output] = []
        touched: dict[int, PartitionTask] = {}
        for tp, raw in batch.items():
            task = tasks[tp.partition]
            for first in range(0, len(raw), SLICE):
                if self._committing is not None and not self._committing.done():
                    await asyncio.sleep(0)
                step.feed(tp.partition, task, raw[first : first + SLICE], out, touched)
        return step.finish(touched, out)

    async def _commit(
        self,
        producer: TransactionalProducer,
        outputs: list[Output],
        offsets: dict[TopicPartition, int],
        count: int,
        started: float,
    ) -> None:
        await producer.begin_transaction()
        for out in outputs:
            await producer.send(out.topic, out.value, key=out.key, partition=out.partition)
        await producer.send_offsets_to_transaction(offsets, self.group_id)
        await producer.commit_transaction()
        self._unlanded -= 1
        self.transactions += 1
        self.processed += count
        self._m.committed.inc()
        self._m.records.inc(count)
        self._m.batch_seconds.observe(loop_time() - started)

    def _committed(self, _done: asyncio.Future[None]) -> None:
        """The commit under way has landed or failed: a revocation may go on, unless a
        batch is in hand."""
        if not self._holding:
            self._idle.set()

    async def _landed(self, producer: TransactionalProducer) -> None:
        """Wait for the commit under way, if any; a Kafka error of it aborts its
        transaction and is raised."""
        committing, self._committing = self._committing, None
        if committing is None:
            return
        try:
            await committing
        except ProducerFenced as exc:
            raise ProcessorError(
                f"fenced: another instance uses transactional id {self.transactional_id}"
            ) from exc
        except KafkaError:
            self._m.aborted.inc()
            await _abort_quietly(producer)
            raise

    async def _settle(self, producer: TransactionalProducer) -> None:
        """On the way out: the commit under way lands or is aborted (the state goes with
        the process, so an abort loses nothing: its batch is read again)."""
        try:
            await self._landed(producer)
        except KafkaError as exc:
            log.warning("%s: the last commit failed on the way out: %s", self.service, exc)
        finally:
            self._idle.set()

    async def _rewind(self, consumer: GroupConsumer, producer: TransactionalProducer) -> None:
        """After an error: let the commit under way, if any, land or abort (so that the
        committed offsets are final), drop in-memory state, go back to those offsets."""
        await self._landed(producer)
        if not self._unlanded:  # it landed, and no batch after it was fetched
            return
        owned = {tp.partition for tp in consumer.assignment()}
        self.tasks.clear()
        self._pending = owned
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        self._unlanded = 0


async def _behind(consumer: ChangelogReader, ends: dict[TopicPartition, int]) -> bool:
    """True while any partition's position is short of its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def _abort_quietly(producer: TransactionalProducer) -> None:
    try:
        await producer.abort_transaction()
    except KafkaError as exc:
        log.warning("abort failed too: %s", exc)
