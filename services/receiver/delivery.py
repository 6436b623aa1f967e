"""Ack or spool: how every ingest endpoint hands its messages over.

:meth:`Delivery.accept` returns only once all of a request's messages are durable:
acknowledged by Kafka (``acks=all``, idempotent, within ``deadline_s``), or, when Kafka
does not ack in time, appended to the local spool and fsync'd. It raises
:class:`~services.receiver.errors.Unavailable` (503) when neither can take them.

Order: while the spool holds anything, new messages go to the spool behind it rather
than straight to Kafka, and one background task drains the spool oldest first. So the
messages of one key reach Kafka in the order they were acknowledged::

    Kafka up      request ─▶ Kafka ─(ack)─▶ 202
    Kafka away    request ─▶ Kafka ✗ (deadline) ─▶ spool ─(fsync)─▶ 202
    spool pending request ─▶ spool ─(fsync)─▶ 202          drainer: spool ─▶ Kafka
    spool full    request ─▶ 503

A message that timed out may still reach Kafka from the producer's queue and then
again from the spool: delivery is at least once, and ``event_id`` identifies copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

from services.ingest.errors import PayloadTooLarge, Unavailable
from services.receiver.errors import ProduceFailed, SpoolError
from services.receiver.frames import Outgoing, SpooledRecord
from services.receiver.metrics import Metrics
from services.receiver.spool import Spool, SpoolFull

__all__ = ["Delivery", "KafkaLink", "Outgoing"]

log = logging.getLogger(__name__)

Accepted = Literal["kafka", "spool"]


class KafkaLink(Protocol):
    """What :class:`Delivery` needs of its way to Kafka; the receiver's is
    :class:`~services.receiver.producer.ProducerLink`."""

    bootstrap_servers: str
    kafka_up: bool  # as last seen

    @property
    def ready(self) -> bool:
        """Whether :meth:`send` may be tried now."""

    async def start(self, timeout_s: float = 5.0) -> bool:
        """Connect; False when Kafka does not answer (requests then spool)."""

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        """Every message acked, or :class:`~services.receiver.errors.ProduceFailed`."""

    async def recover(self) -> None:
        """Reconnect or replace a failing link; called while idle and after failures."""

    async def close(self) -> None:
        """Flush what is in flight and stop."""


class Delivery:
    """Created in the app's lifespan; one per process. See the module docstring."""

    def __init__(
        self,
        link: KafkaLink,
        spool: Spool,
        metrics: Metrics,
        *,
        deadline_s: float = 2.0,
        max_message_bytes: int = 1_000_000,
        drain_batch: int = 500,
    ) -> None:
        self.link = link
        self.spool = spool
        self.metrics = metrics
        self.deadline_s = deadline_s
        self.max_message_bytes = max_message_bytes
        self.drain_batch = drain_batch
        self._drainer: asyncio.Task[None] | None = None
        self._closing = False  # refuse new messages
        self._stopping = False  # end the drainer
        self._outage = False  # logged once per outage, not once per request
        metrics.watch(
            spool_bytes=lambda: spool.pending_bytes,
            spool_records=lambda: spool.pending_records,
            spool_age=spool.oldest_age_s,
            kafka_up=lambda: 1.0 if link.kafka_up else 0.0,
        )

    async def start(self, connect_timeout_s: float = 5.0) -> None:
        """Connect (Kafka may be away: then requests spool) and start draining."""
        if not await self.link.start(connect_timeout_s):
            log.warning(
                "Kafka at %s does not answer; accepting into the spool until it does",
                self.link.bootstrap_servers,
            )
            self._outage = True
        self._drainer = asyncio.create_task(self._drain_forever(), name="spool-drainer")

    async def accept(
        self, messages: Iterable[Outgoing | tuple[str, bytes | None, bytes]]
    ) -> Accepted:
        """Make all of ``messages`` durable, or raise (the error is the HTTP answer).

        All or nothing from the client's point of view: a 2xx covers every message; an
        error means the request must be sent again. Messages are checked against the
        size Kafka takes before anything is sent, and a batch goes whole to Kafka or whole
        to the spool; only a 503 after Kafka acked part of a batch and the spool then
        refused the rest leaves some messages in Kafka, which the retried request repeats
        with the same ``event_id``.
        """
        batch = [Outgoing(*m) for m in messages]
        for message in batch:
            size = len(message.value) + len(message.key or b"")
            if size > self.max_message_bytes:
                raise PayloadTooLarge(
                    f"the message would be {size} bytes; Kafka takes {self.max_message_bytes}"
                )
        if self._closing:
            raise Unavailable("the receiver is shutting down")
        if not batch:
            return "kafka"
        if self.spool.pending_records == 0 and self.link.ready:
            started = time.perf_counter()
            try:
                await self.link.send(batch, self.deadline_s)
            except ProduceFailed as exc:
                elapsed = time.perf_counter() - started
                self.metrics.child(self.metrics.produce_seconds, "error").observe(elapsed)
                if exc.rejected:
                    raise PayloadTooLarge(f"Kafka refuses the message: {exc.reason}") from None
                self._enter_outage(exc.reason)
            else:
                elapsed = time.perf_counter() - started
                self.metrics.child(self.metrics.produce_seconds, "ok").observe(elapsed)
                self.metrics.child(self.metrics.messages, "kafka").inc(len(batch))
                return "kafka"
        await self._spool(batch)
        return "spool"

    async def _spool(self, batch: list[Outgoing]) -> None:
        try:
            await self.spool.append(batch)
        except SpoolFull:
            self.metrics.spool_full.inc()
            raise Unavailable("Kafka is not acknowledging and the spool is full") from None
        except SpoolError as exc:
            log.error("cannot spool: %s", exc)
            raise Unavailable(
                "Kafka is not acknowledging and the spool cannot be written"
            ) from None
        self.metrics.child(self.metrics.messages, "spool").inc(len(batch))

    def _enter_outage(self, reason: str) -> None:
        if not self._outage:
            self._outage = True
            log.warning(
                "Kafka is not acknowledging (%s); spooling to %s", reason, self.spool.directory
            )

    # -- draining ----------------------------------------------------------------------

    async def _drain_forever(self) -> None:
        """Drain until told to stop. Nothing ends this loop but stopping: an error it did
        not foresee (from the Kafka client, say, while a wedged producer is replaced) is
        logged with its traceback and the loop goes on after a pause, for a drainer
        that died would leave every later message in the spool until a restart."""
        backoff = 0.1
        while not self._stopping:  # also ends the loop if a cancellation got lost in aiokafka
            try:
                backoff = await self._drain_step(backoff)
            except Exception:
                log.exception("the spool drainer failed; going on in %gs", backoff)
                self.metrics.drainer_errors.inc()
                backoff = await _pause(backoff)

    async def _drain_step(self, backoff: float) -> float:
        """One turn of the drainer; the pause before the next retry after a failure."""
        try:
            async with asyncio.timeout(5.0):
                await self.spool.has_pending.wait()
        except TimeoutError:
            if not self.link.ready:  # nothing to drain, but reconnect while idle
                await self.link.recover()
            return backoff
        records = self.spool.read(self.drain_batch)
        if not records:
            if self.spool.pending_records == 0:
                self.spool.has_pending.clear()
            else:  # counted but unreadable: should not happen; do not spin
                await asyncio.sleep(1.0)
            return backoff
        if await self._drain(records):
            if self.spool.pending_records == 0:
                await self.spool.compact()
            return 0.1
        await self.link.recover()
        return await _pause(backoff)

    async def _drain(self, records: list[SpooledRecord]) -> bool:
        """Send one batch from the spool; True when it is in Kafka (or quarantined)."""
        if not self.link.ready:
            return False
        try:
            await self.link.send([r.message for r in records], max(self.deadline_s, 5.0))
        except ProduceFailed as exc:
            if exc.rejected:
                return await self._drain_one_by_one(records)
            self._enter_outage(exc.reason)
            return False
        self._drained(records)
        return True

    async def _drain_one_by_one(self, records: list[SpooledRecord]) -> bool:
        for record in records:
            try:
                await self.link.send([record.message], max(self.deadline_s, 5.0))
            except ProduceFailed as exc:
                if not exc.rejected:
                    return False
                log.error(
                    "Kafka refuses a spooled message for %s for good (%s); kept in %s",
                    record.message.topic,
                    exc.reason,
                    self.spool.directory / "rejected.seg",
                )
                await self.spool.quarantine(record)
                self.metrics.quarantined.inc()
            else:
                self._drained([record])
        return True

    def _drained(self, records: list[SpooledRecord]) -> None:
        self.spool.commit(records)
        self.metrics.drained.inc(len(records))
        if self.spool.pending_records == 0 and self._outage:
            self._outage = False
            log.info("Kafka is acknowledging again; the spool is drained")

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the spool is empty; False when ``timeout_s`` passed first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.spool.drained.wait()
        return self.spool.pending_records == 0

    # -- state and shutdown --------------------------------------------------------------

    def readiness(self) -> dict[str, object]:
        """What ``/readyz`` reports: ready when Kafka answers or the spool can take more."""
        spool_ok = self.spool.writable()
        return {
            "ready": not self._closing and (self.link.kafka_up or spool_ok),
            "kafka": "up" if self.link.kafka_up else "down",
            "spool": {
                "writable": spool_ok,
                "records": self.spool.pending_records,
                "bytes": self.spool.pending_bytes,
                "max_bytes": self.spool.max_bytes,
                "oldest_age_s": round(self.spool.oldest_age_s(), 3),
            },
        }

    async def close(self, drain_timeout_s: float = 5.0) -> None:
        """Graceful stop: drain what Kafka will take in time, flush, keep the rest spooled."""
        self._closing = True
        if self.spool.pending_records and self.link.ready:
            await self.wait_drained(drain_timeout_s)
        self._stopping = True
        if self._drainer is not None:
            while not self._drainer.done():
                self._drainer.cancel()
                await asyncio.wait([self._drainer], timeout=1.0)
        await self.link.close()
        if self.spool.pending_records:
            log.warning(
                "stopping with %d messages spooled in %s; they are sent after the next start",
                self.spool.pending_records,
                self.spool.directory,
            )
        else:
            await self.spool.compact()
        self.spool.close()


async def _pause(backoff: float) -> float:
    """Sleep ``backoff`` after a failed turn; the next pause (doubled, at most 5 s)."""
    await asyncio.sleep(backoff)
    return min(backoff * 2, 5.0)
