"""The dispatcher: consume ``alerts``, route, deliver through the sink workers, commit.

::

    alerts ─▶ consumer (group, manual commits) ─▶ Router ─▶ SinkWorker per sink ─▶ sinks
                 ▲                                              │ settle
                 └── commit: lowest unsettled offset ◀── OffsetTracker ◀─┤
                                                 delivery record topic ◀─┤ (compacted)
                                                        kitestream.dlq ◀─┘ (gave up)

A delivery counts once its record is on the compacted topic. Records are read back at
start and after every rebalance, and whatever they hold is not sent again, so alerts read
a second time (after a restart, a rebalance, or a duplicate on ``alerts``) are skipped.
Only a crash between a sink's answer and the record's ack resends, at most the
deliveries in flight per sink (``KITESTREAM_DISPATCHER_SINK_CONCURRENCY``), and then the
sink sees the same idempotency key (``alert_id``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from schemas.alerts import Alert
from schemas.deadletter import DeadLetter
from services.common.kafka import encode, make_consumer, make_producer, send_with_deadline
from services.common.topics import Topic, Topics, TopicSpec, create_topics
from services.common.trouble import KafkaTrouble
from services.dispatcher.backoff import RetryPolicy
from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.deliverylog import DeliveryLog, delivered_topic_config, replay_horizon_s
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.offsets import OffsetTracker
from services.dispatcher.records import DeliveryRecord
from services.dispatcher.routing import Router
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.sinks import Sink
from services.dispatcher.worker import AlreadyDone, Delivered, Job, Origin, Outcome, SinkWorker

__all__ = ["DELIVERED_TOPIC", "Dispatcher"]

log = logging.getLogger(__name__)

DELIVERED_TOPIC = "dispatcher-delivered"  # under Topics.internal()
CLIENT_ID = "kitestream-dispatcher"


class Dispatcher:
    def __init__(
        self,
        settings: DispatcherSettings,
        sinks: Mapping[str, Sink],
        router: Router,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self._settings = settings
        self.metrics = metrics or DispatcherMetrics()
        self._sinks = dict(sinks)
        self._router = router
        topics = Topics(settings.topic_prefix)
        self.alerts_topic = topics.name(Topic.ALERTS)
        self.dlq_topic = topics.name(Topic.DLQ)
        self.delivered_topic = topics.internal(DELIVERED_TOPIC)
        # Each settled delivery waits for its record's ack: no linger, records are sparse.
        self._producer = make_producer(settings.bootstrap_servers, client_id=CLIENT_ID, linger_ms=0)
        self._records = DeliveryLog(
            settings.bootstrap_servers, self.delivered_topic, self._producer
        )
        self._consumer: AIOKafkaConsumer = make_consumer(
            settings.bootstrap_servers,
            group_id=settings.consumer_group,
            client_id=CLIENT_ID,
            max_poll_records=200,
        )
        self._tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self._generation: dict[TopicPartition, int] = {}
        self._catch_up = True
        self._paused = False
        policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            base_s=settings.backoff_base_s,
            cap_s=settings.backoff_max_s,
            give_up_after_s=settings.give_up_after_s,
        )
        self._workers = {
            name: SinkWorker(
                sink,
                policy=policy,
                breaker=CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown_s),
                index=self._records.index,
                settle=self._settle,
                is_current=self._is_current,
                metrics=self.metrics,
                concurrency=settings.sink_concurrency,
            )
            for name, sink in self._sinks.items()
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish what is in flight, commit, close."""
        tasks: list[asyncio.Task[None]] = []
        try:
            retention_s = await self._delivered_retention_s()
            await create_topics(
                self._settings.bootstrap_servers,
                [TopicSpec(self.delivered_topic, delivered_topic_config(retention_s))],
            )
            await self._check_delivered_topic(retention_s)
        except BaseException:
            await self._close()  # nothing started: only free the clients
            raise
        await self._producer.start()
        try:
            self._records.index.retention_s = retention_s
            await self._records.start()
            await self._consumer.start()
            self._consumer.subscribe([self.alerts_topic], listener=_Listener(self))
            tasks = [
                asyncio.create_task(w.run(), name=f"sink-{n}") for n, w in self._workers.items()
            ]
            log.info(
                "dispatching %s to %s as group %s",
                self.alerts_topic,
                ", ".join(self._sinks) or "no sinks",
                self._settings.consumer_group,
            )
            await self._consume(stop, tasks)
        finally:
            await self._shutdown(tasks)

    async def _delivered_retention_s(self) -> float | None:
        """How long the delivered index holds a pair: the setting, else as long as
        ``alerts`` can keep an alert (a restart cannot read an older one again)."""
        chosen = self._settings.delivered_retention_s
        why = "KITESTREAM_DISPATCHER_DELIVERED_RETENTION_S"
        if chosen is None:
            chosen = await replay_horizon_s(self._settings.bootstrap_servers, self.alerts_topic)
            why = f"{self.alerts_topic}'s retention.ms + segment.ms"
        if chosen is None:
            log.info("deliveries remembered for good: %s keeps alerts for good", self.alerts_topic)
        else:
            log.info("deliveries remembered for %.1f h (%s)", chosen / 3600, why)
        return chosen

    async def _check_delivered_topic(self, retention_s: float | None) -> None:
        """Warn when the delivery records are kept for good though nothing reads them
        after ``retention_s`` (a topic made before records expired): it only grows."""
        if retention_s is None:
            return
        kept = await replay_horizon_s(self._settings.bootstrap_servers, self.delivered_topic)
        if kept is None:
            config = delivered_topic_config(retention_s)
            log.warning(
                "%s keeps delivery records for good, but they are read for %.1f h only; "
                "to bound it: kafka-configs.sh --alter --entity-type topics --entity-name %s "
                "--add-config 'cleanup.policy=[compact,delete],retention.ms=%s'",
                self.delivered_topic,
                retention_s / 3600,
                self.delivered_topic,
                config["retention.ms"],
            )

    async def _consume(self, stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]]) -> None:
        last_commit = time.monotonic()
        trouble = KafkaTrouble("dispatcher")
        while not stop.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=200)
            except KafkaError as exc:  # a leader or coordinator moving; nothing handed out
                await trouble.wait_after(exc)
                continue
            await self._caught_up(trouble)
            trouble.over()
            for tp, records in batches.items():
                for record in records:
                    await self._take(tp, record)
            self._backpressure()
            if time.monotonic() - last_commit >= self._settings.commit_interval_s:
                await self._commit()
                last_commit = time.monotonic()
            for task in tasks:
                if task.done():  # a worker only ends on stop; anything else is a bug
                    task.result()
                    raise RuntimeError(f"worker {task.get_name()} ended on its own")

    async def _caught_up(self, trouble: KafkaTrouble) -> None:
        """After an assignment (made inside ``getmany``), read the delivery records up to
        now, waiting out Kafka errors: the batch in hand is checked against them."""
        while self._catch_up:
            self._catch_up = False
            try:
                await self._records.catch_up()
            except KafkaError as exc:
                self._catch_up = True
                await trouble.wait_after(exc)

    async def _take(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            self._tracker.track(tp, record.offset, 0)
            return
        self.metrics.alert_consumed()
        origin = Origin(tp.topic, tp.partition, record.offset, record.key, record.value)
        try:
            alert = Alert.model_validate_json(record.value)
        except ValidationError as exc:
            self._tracker.track(tp, record.offset, 1)
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False)[:5]
            )
            await self._dead_letter(origin, f"not a valid alert: {problems}")
            self.metrics.dead_letter("invalid_alert")
            self._tracker.settle(tp, record.offset)
            return
        index = self._records.index
        todo: list[str] = []
        for name in self._router.sinks_for(alert):
            if index.settled(alert.alert_id, name):
                self.metrics.count(name, "skipped_duplicate")
            else:
                todo.append(name)
        self._tracker.track(tp, record.offset, len(todo))
        job = Job(alert, origin, time.monotonic(), self._generation.get(tp, 0))
        for name in todo:
            self._workers[name].submit(job)

    async def _settle(self, sink: str, jobs: Sequence[Job], outcome: Outcome) -> None:
        """Record what happened to ``jobs`` at ``sink``, then let their offsets go."""
        if not isinstance(outcome, AlreadyDone):
            now = datetime.now(UTC)
            for job in {job.alert.alert_id: job for job in jobs}.values():
                if isinstance(outcome, Delivered):
                    kind = "skipped" if outcome.receipt.skipped else "delivered"
                    note = outcome.receipt.note
                else:
                    kind, note = "dead_lettered", outcome.reason
                    log.error("sink %s gave up on alert %s: %s", sink, job.alert.alert_id, note)
                    await self._dead_letter(job.origin, f"sink {sink}: {note}")
                    self.metrics.dead_letter("gave_up")
                record = DeliveryRecord(
                    alert_id=job.alert.alert_id,
                    sink=sink,
                    outcome=kind,
                    attempts=outcome.attempts,
                    at=now,
                    kind=job.alert.kind,
                    created_at=job.alert.created_at,
                    subject=job.subject,
                    note=note,
                )
                await self._durably(partial(self._records.write, record), "a delivery record")
        for job in jobs:
            if self._is_current(job):
                tp = TopicPartition(job.origin.topic, job.origin.partition)
                self._tracker.settle(tp, job.origin.offset)

    async def _dead_letter(self, origin: Origin, error: str) -> None:
        letter = DeadLetter(
            service="dispatcher",
            error=error,
            origin_topic=origin.topic,
            origin_partition=origin.partition,
            origin_offset=origin.offset,
            key=None if origin.key is None else origin.key.decode("utf-8", "replace"),
            value=origin.value.decode("utf-8", "replace"),
            at=datetime.now(UTC),
        )
        send = partial(
            send_with_deadline,
            self._producer,
            self.dlq_topic,
            encode(letter),
            key=origin.key,
            deadline_s=10,
        )
        await self._durably(send, "a dead letter")

    async def _durably(self, write: Callable[[], Awaitable[object]], what: str) -> None:
        """Retry a Kafka write until the broker acks it (a worker waits here meanwhile;
        on shutdown its task is cancelled and the delivery stays unsettled)."""
        delay = 0.5
        while True:
            try:
                await write()
            except (KafkaError, TimeoutError) as exc:
                log.warning("writing %s failed (%r); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            else:
                return

    def _is_current(self, job: Job) -> bool:
        tp = TopicPartition(job.origin.topic, job.origin.partition)
        return self._generation.get(tp) == job.generation

    def _backpressure(self) -> None:
        in_flight = self._tracker.in_flight
        limit = self._settings.max_in_flight
        if in_flight >= limit:
            if not self._paused:
                log.warning("%d alerts in flight; pausing consumption", in_flight)
            self._paused = True
            self._consumer.pause(*self._consumer.assignment())
        elif self._paused and in_flight <= limit // 2:
            log.info("%d alerts in flight; resuming consumption", in_flight)
            self._paused = False
            self._consumer.resume(*self._consumer.assignment())

    async def _commit(self, partitions: set[TopicPartition] | None = None) -> None:
        assigned = self._consumer.assignment() if partitions is None else partitions
        offsets = {tp: o for tp, o in self._tracker.committable().items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("commit failed (%s); the delivery records prevent resends", exc)
            return
        self._tracker.committed(offsets)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._commit(revoked)
        self._tracker.forget(revoked)
        for tp in revoked:
            self._generation[tp] = self._generation.get(tp, 0) + 1

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self._generation[tp] = self._generation.get(tp, 0) + 1
        self._catch_up = True

    async def _shutdown(self, tasks: Sequence[asyncio.Task[None]]) -> None:
        for worker in self._workers.values():
            worker.stop()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._commit()
        await self._close()

    async def _close(self) -> None:
        await self._consumer.stop()
        await self._records.stop()
        await self._producer.stop()
        for sink in self._sinks.values():
            await sink.aclose()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._dispatcher.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._dispatcher.on_assigned(assigned)
