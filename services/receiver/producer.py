"""The receiver's one Kafka producer: durable sends with a deadline, replaced when wedged.

The producer is ``acks=all`` and idempotent (:func:`services.common.kafka.make_producer`).
With idempotence aiokafka never gives up on a send by itself, so every batch here is
bounded by a deadline. A failed batch is classified:

- *rejected*: Kafka will never take this message (too large); retrying cannot help;
- *fatal*: the producer itself is no longer usable. aiokafka #1017 (open): after a
  short broker outage an idempotent producer can fail every send with
  ``OutOfOrderSequenceNumber`` until it is recreated; ``UnknownProducerId`` and a dead
  sender task end the same way;
- otherwise transient (broker away, deadline passed).

:meth:`ProducerLink.recover` replaces the producer after a fatal error at once, and
after repeated transient failures when a fresh connection shows that Kafka does answer:
then the old producer is wedged, not the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownProducerId,
)
from aiokafka.partitioner import DefaultPartitioner, murmur2

from services.common.kafka import make_producer
from services.receiver.deadlines import deadline
from services.receiver.errors import ProduceFailed
from services.receiver.frames import Outgoing

__all__ = ["KeyHashPartitioner", "ProducerLink"]

log = logging.getLogger(__name__)

_REJECTED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
_FATAL = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
    ProducerClosed,
)


class KeyHashPartitioner:
    """aiokafka's default partitioner, remembering each key's murmur2 hash: the keys are a
    few pipeline slugs and agent ids, and the pure-Python hash cost a few µs a message."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


class ProducerLink:
    """Owns the current producer; :meth:`send` a batch, :meth:`recover` after failures."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        linger_ms: int = 0,
        batch_bytes: int = 256 * 1024,
        client_id: str = "kitestream-receiver",
        on_replace: Callable[[str], None] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.linger_ms = linger_ms
        self.batch_bytes = batch_bytes
        self.client_id = client_id
        self._on_replace = on_replace or (lambda _reason: None)
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = KeyHashPartitioner()
        self._fatal = False
        self._start_failed = False  # the last start failed (logged once per streak)
        self.failures = 0  # consecutive failed batches
        self.kafka_up = False  # as last seen by a send, a start or a probe

    @property
    def ready(self) -> bool:
        """A started producer that has not failed fatally (it may still be failing)."""
        return self._producer is not None and not self._fatal and not self._sender_dead()

    async def start(self, timeout_s: float = 5.0) -> bool:
        """Start a new producer; False (and no producer) when Kafka does not answer."""
        producer = self._new_producer()
        try:
            async with asyncio.timeout(timeout_s):
                await producer.start()
        except (KafkaError, OSError, TimeoutError) as exc:
            # said once until a start succeeds, then at debug level (tried every few s)
            log.log(
                logging.DEBUG if self._start_failed else logging.WARNING,
                "the Kafka producer did not start within %gs: %r",
                timeout_s,
                exc,
            )
            self._start_failed = True
            await _dispose(producer)
            self.kafka_up = False
            return False
        except asyncio.CancelledError:  # shutting down mid-start: close it, then go on
            await _dispose(producer)
            raise
        self._producer, self._fatal, self.failures, self.kafka_up = producer, False, 0, True
        if self._start_failed:
            self._start_failed = False
            log.info("the Kafka producer started")
        return True

    def _new_producer(self) -> AIOKafkaProducer:
        """The durable settings of :func:`services.common.kafka.make_producer` (``acks=all``,
        idempotence), plus ``max_batch_size``, which ``make_producer`` does not take: at
        its 16 KiB default a batch holds three webhooks, and the per-batch overhead then
        quadruples aiokafka's CPU per message (see docs/benchmarks.md, Receiver)."""
        return make_producer(
            self.bootstrap_servers,
            client_id=self.client_id,
            linger_ms=self.linger_ms,
            max_batch_size=self.batch_bytes,
            partitioner=self._partitioner,
        )

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        """Produce ``messages`` and wait for every ack, or raise :class:`ProduceFailed`."""
        producer = self._producer
        if producer is None or not self.ready:
            raise ProduceFailed("no working producer")
        futures: list[asyncio.Future[object]] = []
        acked = False
        try:
            with deadline(deadline_s):  # shared coarse timer, not one per request
                for message in messages:
                    futures.append(
                        await producer.send(message.topic, message.value, key=message.key)
                    )
                for future in futures:
                    # At the deadline this cancels the delivery future, which aiokafka
                    # tolerates: it resolves only futures that are not done yet.
                    await future
            acked = True
        except TimeoutError:
            self.failures += 1
            raise ProduceFailed(f"Kafka did not ack within {deadline_s:g}s") from None
        except KafkaError as exc:
            self.failures += 1
            raise self._classify(exc) from None
        finally:
            if not acked:  # failed, timed out or cancelled: nobody waits for these any more
                _mark_seen(futures)
        self.failures, self.kafka_up = 0, True

    def _classify(self, exc: BaseException | None) -> ProduceFailed:
        if isinstance(exc, _REJECTED):
            self.failures = 0  # the message is at fault, not Kafka
            return ProduceFailed(f"Kafka refuses the message: {exc!r}", rejected=True)
        if isinstance(exc, _FATAL):
            self._fatal = True
            return ProduceFailed(f"the producer is unusable: {exc!r}", fatal=True)
        return ProduceFailed(f"Kafka did not ack: {exc!r}")

    def _sender_dead(self) -> bool:
        sender = getattr(self._producer, "_sender", None)
        task = getattr(sender, "sender_task", None)
        return isinstance(task, asyncio.Task) and task.done()

    async def probe(self, timeout_s: float = 3.0) -> bool:
        """Whether Kafka answers a metadata request on a fresh connection."""
        client = AIOKafkaClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=2000)
        try:
            async with asyncio.timeout(timeout_s):
                await client.bootstrap()
            self.kafka_up = True
        except (KafkaError, OSError, TimeoutError):
            self.kafka_up = False
        finally:
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await client.close()
        return self.kafka_up

    async def recover(self) -> None:
        """After a failure: start, or replace a producer that is wedged, when Kafka answers."""
        if self._producer is None:
            await self.start()
        elif self._fatal or self._sender_dead():
            await self.replace("it failed fatally (aiokafka #1017)")
        elif self.failures >= 2 and await self.probe():
            await self.replace("Kafka answers but the producer does not deliver")

    async def replace(self, reason: str) -> None:
        old, self._producer = self._producer, None
        log.warning("replacing the Kafka producer: %s", reason)
        self._on_replace(reason)
        if old is not None:
            await _dispose(old)
        await self.start()

    async def close(self, timeout_s: float = 5.0) -> None:
        """Flush and stop; a producer that cannot flush in time is abandoned."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        stopping = asyncio.ensure_future(producer.stop())
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(stopping)
            return
        except (KafkaError, OSError) as exc:
            log.warning("the Kafka producer stopped with an error: %r", exc)
            return
        except TimeoutError:
            log.warning("the Kafka producer did not flush within %gs; abandoning it", timeout_s)
        _fail_queued(producer)
        with contextlib.suppress(KafkaError, OSError, TimeoutError):
            async with asyncio.timeout(3.0):
                await stopping


def _fail_queued(producer: AIOKafkaProducer) -> None:
    """Fail the batches a producer still queues, so that its stop() need not flush them.

    Each batch's own futures (its delivery and its drain waiter) are awaited only by the
    producer's sender, which is gone: their errors are marked seen here.
    """
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is None:
        return
    with contextlib.suppress(Exception):
        batches = [*itertools.chain(*accumulator._batches.values(), accumulator._pending_batches)]
        accumulator.fail_all(KafkaError("the producer was abandoned"))
        _mark_seen([f for b in batches for f in (b.future, b._drain_waiter)])


async def _dispose(producer: AIOKafkaProducer, timeout_s: float = 3.0) -> None:
    """Stop a producer we give up on, without waiting for a flush that cannot happen.

    Whatever its stop raises is logged and dropped: a wedged producer's sender task can
    end with any error (its stop re-raises it), and none of it concerns the new one."""
    _fail_queued(producer)
    try:
        async with asyncio.timeout(timeout_s):
            await producer.stop()
    except Exception as exc:
        log.debug("the old Kafka producer stopped with %r", exc)


def _mark_seen(futures: list[asyncio.Future[object]]) -> None:
    """Mark the errors of futures nobody awaits as seen, so that asyncio does not log
    "Future exception was never retrieved" with a traceback whenever they are collected."""
    for future in futures:
        if future.done():
            _consume(future)
        else:
            future.add_done_callback(_consume)


def _consume(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
