"""The consumer: contract topics into the database, each record once.

One consumer group (``kitestream-store``), ``read_committed``. For every batch that
``getmany`` returns, the records are decoded and folded (:mod:`services.store.batch`)
and written with their partitions' next offsets in one transaction
(:mod:`services.store.writer`). On assignment the consumer seeks to the offsets stored
in the database (the beginning where none is stored): Kafka's committed offsets are
written too (every few seconds, after the database commit), but only so that lag tools
can see them.

A rebalance can start while a batch is being written; assignment and revocation wait
for that write (``_writing``), which never waits on the consumer, so the wait cannot
deadlock. A write whose offsets moved in another instance rolls back and the partitions
are read again from the stored offsets.

Database calls run in a worker thread so that the consumer's heartbeats go on.

With auto-quarantine on (``auto_quarantine``), the store also publishes the changes the
policy makes (:mod:`services.store.autoquarantine`) every ``auto_interval_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.engine import Engine

from services.common.clients import unread
from services.common.kafka import make_consumer, make_producer, send_with_deadline
from services.common.topics import Topic, Topics, TopicSpec, create_topics, topic_specs
from services.common.trouble import GIVE_UP_AFTER_S, KafkaTrouble
from services.dispatcher.deliverylog import delivered_topic_config, replay_horizon_s
from services.quarantine.policy import AutoQuarantine
from services.store.autoquarantine import due_changes
from services.store.batch import Batch
from services.store.metrics import StoreMetrics
from services.store.offsets import OffsetMoved, read_offsets
from services.store.prune import Retention, prune_step
from services.store.records import DECODERS, Policy
from services.store.writer import write_batch

__all__ = ["DELIVERED_TOPIC", "Store"]

log = logging.getLogger(__name__)

DELIVERED_TOPIC = "kitestream.dispatcher-delivered"  # the dispatcher's, under the prefix

# Kafka's committed offsets are for lag tools only: a round trip every few seconds.
KAFKA_COMMIT_INTERVAL_S = 5.0


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, store: Store) -> None:
        self.store = store

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.store._writing:
            for tp in revoked:
                self.store._expected.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self.store._writing:
            await self.store._seek_to_stored(list(assigned))


class Store:
    """Reads the topics under ``topics`` into ``engine`` until ``stop`` is set."""

    def __init__(
        self,
        engine: Engine,
        bootstrap_servers: str,
        topics: Topics,
        *,
        group_id: str = "kitestream-store",
        policy: Policy | None = None,
        retention: Retention | None = None,
        prune_interval_s: float = 300.0,
        prune_batch: int = 1000,
        max_batch: int = 5000,
        metrics: StoreMetrics | None = None,
        auto_quarantine: AutoQuarantine | None = None,
        auto_interval_s: float = 60.0,
        give_up_after_s: float = GIVE_UP_AFTER_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.group_id = group_id
        self.policy = policy or Policy()
        self.retention = retention or Retention()
        self.prune_interval_s = prune_interval_s
        self.prune_batch = prune_batch
        self.max_batch = max_batch
        self.metrics = metrics or StoreMetrics()
        # full topic name -> unprefixed name (the decoder's key)
        self.base = {f"{topics.prefix}{name}": name for name in DECODERS}
        self._expected: dict[tuple[str, int], int | None] = {}
        self._writing = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._next_prune = 0.0
        self._next_kafka_commit = 0.0
        self._warned: set[tuple[str, str]] = set()
        self.auto_quarantine = auto_quarantine
        self.auto_interval_s = auto_interval_s
        self.give_up_after_s = give_up_after_s
        self.clock = clock
        self._producer: AIOKafkaProducer | None = None
        self._next_auto = 0.0

    async def prepare_topics(self) -> None:
        """Create the input topics that do not exist yet; the delivery records' as the
        dispatcher makes it (compacted, kept as long as ``alerts`` keeps alerts)."""
        await create_topics(self.bootstrap_servers, topic_specs(self.topics))
        horizon = await replay_horizon_s(self.bootstrap_servers, self.topics.name(Topic.ALERTS))
        delivered = TopicSpec(self.topics.name(DELIVERED_TOPIC), delivered_topic_config(horizon))
        await create_topics(self.bootstrap_servers, [delivered])

    async def run(self, stop: asyncio.Event) -> None:
        await self.prepare_topics()
        consumer = make_consumer(
            self.bootstrap_servers,
            group_id=self.group_id,
            client_id="kitestream-store",
            max_poll_records=self.max_batch,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self._consumer = consumer
        await consumer.start()
        if self.auto_quarantine is not None:
            self._producer = make_producer(self.bootstrap_servers, client_id="kitestream-store")
            await self._producer.start()
        try:
            consumer.subscribe(sorted(self.base), listener=_Assignment(self))
            stopping = asyncio.ensure_future(stop.wait())
            trouble = KafkaTrouble("store", self.give_up_after_s)
            try:
                while not stop.is_set():
                    fetch = asyncio.ensure_future(
                        consumer.getmany(timeout_ms=500, max_records=self.max_batch)
                    )
                    await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if not fetch.done():
                        fetch.cancel()
                        break
                    try:
                        batches = fetch.result()
                    except KafkaError as exc:  # a leader or coordinator moving: wait, again
                        await trouble.wait_after(exc)
                        continue
                    trouble.over()
                    if batches:
                        await self._write(batches)
                    await self._note_lag(consumer)
                    await self._prune_if_due()
                    await self._auto_quarantine_if_due()
            finally:
                stopping.cancel()
            await self._commit_to_kafka(dict(self._expected))
        finally:
            await consumer.stop()
            self._consumer = None
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None

    async def _note_lag(self, consumer: AIOKafkaConsumer) -> None:
        """``kitestream_store_lag_records`` per topic (:func:`unread`, summed)."""
        lag = dict.fromkeys(self.base.values(), 0)
        for tp, count in (await unread(consumer)).items():
            lag[self.base[tp.topic]] += count
        for topic, count in lag.items():
            self.metrics.lag.labels(topic).set(count)

    async def _auto_quarantine_if_due(self) -> None:
        """Publish what the auto-quarantine policy decides now (when on and due)."""
        if self.auto_quarantine is None or self._producer is None:
            return
        if time.monotonic() < self._next_auto:
            return
        self._next_auto = time.monotonic() + self.auto_interval_s
        changes = await asyncio.to_thread(
            due_changes, self.engine, self.auto_quarantine, self.clock()
        )
        topic = self.topics.name(Topic.QUARANTINE)
        for change in changes:
            try:
                await send_with_deadline(self._producer, topic, change.to_json(),
                                         key=change.key.encode(), deadline_s=10.0)  # fmt: skip
            except (KafkaError, TimeoutError) as exc:
                log.warning("auto-quarantine: %s not published (%r); next pass", change.key, exc)
                return
            log.info("auto-quarantine: %s %s (%s)", change.state, change.key, change.reason)

    async def _seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None or not assigned:
            return
        stored = await asyncio.to_thread(self._read_offsets)
        fresh = []
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            self._expected[(tp.topic, tp.partition)] = offset
            if offset is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, offset)
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        log.info(
            "assigned %d partitions (%d from stored offsets)",
            len(assigned),
            len(assigned) - len(fresh),
        )

    def _read_offsets(self) -> dict[tuple[str, int], int]:
        with self.engine.connect() as conn:
            return read_offsets(conn, self.group_id, sorted(self.base))

    async def _write(self, batches: Mapping[TopicPartition, list[Any]]) -> None:
        async with self._writing:
            batch = Batch(policy=self.policy)
            for tp, records in batches.items():
                slot = (tp.topic, tp.partition)
                if slot not in self._expected:
                    continue  # revoked since it was fetched
                start = self._expected[slot]
                base = self.base[tp.topic]
                counted = 0
                for record in records:
                    offset = record.offset
                    if start is not None and offset < start:
                        continue  # fetched before a seek back to the stored offset
                    batch.add_record(
                        tp.topic,
                        tp.partition,
                        offset,
                        key=record.key,
                        value=record.value,
                        base_topic=base,
                    )
                    counted += 1
                self.metrics.records.labels(base).inc(counted)
            if not batch.offsets:
                return
            expected = {slot: self._expected[slot] for slot in batch.offsets}
            started = time.perf_counter()
            try:
                await asyncio.to_thread(write_batch, self.engine, batch, self.group_id, expected)
            except OffsetMoved as exc:
                self.metrics.batches.labels("offset_moved").inc()
                log.warning("batch rolled back: %s; reading again from stored offsets", exc)
                await self._seek_to_stored(
                    [TopicPartition(topic, partition) for topic, partition in batch.offsets]
                )
                return
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
            self.metrics.batches.labels("committed").inc()
            self._expected.update(batch.offsets)
            for name, rows in batch.rows.items():
                self.metrics.rows.labels(name).inc(len(rows))
            self._report_poison(batch)
        if time.monotonic() >= self._next_kafka_commit:
            self._next_kafka_commit = time.monotonic() + KAFKA_COMMIT_INTERVAL_S
            await self._commit_to_kafka(dict(self._expected))

    def _report_poison(self, batch: Batch) -> None:
        for (topic, kind), count in batch.poison.items():
            self.metrics.poison.labels(topic, kind).inc(count)
            if (topic, kind) not in self._warned:
                self._warned.add((topic, kind))
                log.warning(
                    "skipping unreadable records on %s (%s), first: %s;"
                    " counted in kitestream_store_poison_records, not logged again",
                    topic,
                    kind,
                    batch.first_poison[(topic, kind)],
                )

    async def _commit_to_kafka(self, offsets: Mapping[tuple[str, int], int | None]) -> None:
        """Best effort, for lag tools: the database holds the offsets that count."""
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        wanted = {
            TopicPartition(topic, partition): offset
            for (topic, partition), offset in offsets.items()
            if offset is not None and TopicPartition(topic, partition) in assigned
        }
        if not wanted:
            return
        try:
            await consumer.commit(wanted)
        except KafkaError as exc:
            log.debug("kafka offset commit skipped: %r", exc)

    async def _prune_if_due(self, now: datetime | None = None) -> None:
        if time.monotonic() < self._next_prune:
            return
        at = now or datetime.now(UTC)
        deleted = await asyncio.to_thread(
            prune_step, self.engine, self.retention, at, self.prune_batch
        )
        for table, count in deleted.items():
            self.metrics.pruned.labels(table).inc(count)
        if deleted:
            log.info("pruned %s", ", ".join(f"{n} {t}" for t, n in sorted(deleted.items())))
        if not any(count >= self.prune_batch for count in deleted.values()):
            self._next_prune = time.monotonic() + self.prune_interval_s
