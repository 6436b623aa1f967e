"""One delivery worker per sink: a queue, a window of deliveries in flight, retries with
backoff, and a circuit breaker.

Each sink has its own worker (and its own HTTP client), so a sink that is down only
holds up its own queue. The worker takes the next batch (one alert, or for Slack all that
queued up since its last message) that may go (:mod:`services.dispatcher.window`: one
alert per key at a time, in order) and starts its delivery, up to ``concurrency``
deliveries at once (1 for a sink that asks for a pause between calls, such as Slack).
Each delivery sends, retries transient failures with backoff, and hands the outcome to
``settle`` (which records it, or dead-letters it) before its slot is free again. So at
most ``concurrency`` batches per sink are ever in flight: a crash can resend those and
nothing else. When the circuit is half-open, one delivery probes the sink and the others
wait for its answer.

On stop, a worker finishes the requests it is waiting for, settles them, and returns; it
does not start new attempts. What it leaves unsettled is read again after a restart.

The worker counts its sink's attempts, retries and outcomes in
:class:`~services.dispatcher.metrics.DispatcherMetrics` just before it settles them, and
shows its circuit state and pending alerts there.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from schemas.alerts import Alert
from services.dispatcher.backoff import GiveUp, RetryPolicy
from services.dispatcher.breaker import BreakerState, CircuitBreaker
from services.dispatcher.errors import DeliveryFailed
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.records import RECOVERY_KINDS, DeliveredIndex
from services.dispatcher.sinks.base import Envelope, Receipt, Sink
from services.dispatcher.window import Window

__all__ = ["AlreadyDone", "Delivered", "GaveUp", "Job", "Origin", "Outcome", "SinkWorker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where an alert was read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Job:
    """One alert to deliver to one sink."""

    alert: Alert
    origin: Origin
    read_at: float  # monotonic time the alert was read: its retry budget starts here
    generation: int  # of its partition's assignment; a revoked partition's jobs are dropped

    @property
    def alert_id(self) -> str:
        return self.alert.alert_id

    @property
    def subject(self) -> str | None:
        key = self.origin.key
        return None if key is None else key.decode("utf-8", "replace")


@dataclass(frozen=True)
class Delivered:
    attempts: int
    receipt: Receipt


@dataclass(frozen=True)
class GaveUp:
    attempts: int
    reason: str


@dataclass(frozen=True)
class AlreadyDone:
    """The index already holds a record for this alert and sink (a duplicate alert)."""


Outcome = Delivered | GaveUp | AlreadyDone
Settle = Callable[[str, Sequence[Job], Outcome], Awaitable[None]]


class SinkWorker:
    def __init__(
        self,
        sink: Sink,
        *,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        index: DeliveredIndex,
        settle: Settle,
        is_current: Callable[[Job], bool] = lambda job: True,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        metrics: DispatcherMetrics | None = None,
        concurrency: int = 1,
    ) -> None:
        self.sink = sink
        self._policy = policy
        self._breaker = breaker
        self._index = index
        self._settle = settle
        self._is_current = is_current
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._queue: deque[Job] = deque()
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._last_send: float | None = None
        self._last_error = "earlier failures"  # the sink's, for alerts its open circuit stops
        self._in_flight = 0  # jobs taken off the queue and not yet settled
        # A sink that wants a pause between calls (Slack) gets one call at a time.
        self._window: Window[Job] = Window(1 if sink.min_interval_s > 0 else concurrency)
        self._deliveries: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None  # of a delivery task: a bug
        self._probing = False  # a delivery is probing the half-open circuit
        self._probe_over = asyncio.Event()
        self._metrics = metrics or DispatcherMetrics()
        self._metrics.watch_sink(
            sink.name,
            circuit=self.circuit,
            pending=lambda: self.pending,
            in_flight=lambda: self.in_flight,
        )

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet settled: queued, or in a batch in flight."""
        return len(self._queue) + self._in_flight

    @property
    def concurrency(self) -> int:
        """How many deliveries this sink may have in flight at once."""
        return self._window.size

    @property
    def in_flight(self) -> int:
        """Deliveries (requests, with their retries) in flight now."""
        return self._window.in_flight

    def circuit(self) -> BreakerState:
        """The sink's circuit state now."""
        return self._breaker.state(self._clock())

    def submit(self, job: Job) -> None:
        self._queue.append(job)
        self._ready.set()

    def stop(self) -> None:
        """Finish the requests in flight, settle them, start nothing new."""
        self._stopping.set()
        self._ready.set()

    async def run(self) -> None:
        """Start deliveries until stopped; then wait for those in flight to settle (or,
        if cancelled, cancel them: what they held stays unsettled)."""
        try:
            await self._dispatch()
            await asyncio.gather(*self._deliveries)  # nothing new starts after _dispatch
        finally:
            for task in self._deliveries:
                task.cancel()
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _dispatch(self) -> None:
        name = self.sink.name
        while not self._stopping.is_set():
            if self._failure is not None:
                raise self._failure
            if self._queue and not self._window.full:
                try:
                    await self._pace()
                except _Stopped:
                    return
            pick = self._window.pick(
                self._queue, self.sink.max_batch, current=self._is_current, settled=self._settled
            )
            if not pick:  # nothing queued, the window is full, or all wait for their key
                self._ready.clear()
                await self._ready.wait()
                continue
            if pick.done:
                self._metrics.count(name, "skipped_duplicate", len(pick.done))
                self._in_flight += len(pick.done)
                try:
                    await self._settle(name, pick.done, AlreadyDone())
                finally:
                    self._in_flight -= len(pick.done)
            if pick.batch:
                self._in_flight += len(pick.batch) + len(pick.riders)
                task = asyncio.create_task(
                    self._run_delivery(pick.batch, pick.riders), name=f"sink-{name}-delivery"
                )
                self._deliveries.add(task)
                task.add_done_callback(self._delivery_ended)

    def _settled(self, job: Job) -> bool:
        return self._index.settled(job.alert_id, self.sink.name)

    async def _run_delivery(self, batch: list[Job], riders: list[Job]) -> None:
        """Deliver one batch and settle it; its window slot is free again after."""
        try:
            outcome = await self._deliver(batch)
            self._count(batch, riders, outcome)
            await self._settle(self.sink.name, batch + riders, outcome)
        except _Stopped:
            return
        finally:
            self._in_flight -= len(batch) + len(riders)
            self._window.release(batch)

    def _delivery_ended(self, task: asyncio.Task[None]) -> None:
        self._deliveries.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
        self._ready.set()

    def _count(self, batch: Sequence[Job], riders: Sequence[Job], outcome: Outcome) -> None:
        name = self.sink.name
        self._metrics.count(name, "skipped_duplicate", len(riders))
        if isinstance(outcome, Delivered):
            read_at = [job.read_at for job in batch]
            self._metrics.delivered(name, read_at, outcome.receipt, self._clock())
        elif isinstance(outcome, GaveUp):
            self._metrics.count(name, "dead_lettered", len(batch))

    def _envelope(self, job: Job) -> Envelope:
        if job.alert.kind not in RECOVERY_KINDS:
            return Envelope(job.alert)
        return Envelope(job.alert, self._index.latest_trigger(self.sink.name, job.subject))

    async def _deliver(self, batch: Sequence[Job]) -> Delivered | GaveUp:
        """Send ``batch`` until it is taken or given up on (:class:`_Stopped` on stop)."""
        envelopes = [self._envelope(job) for job in batch]
        read_at = min(job.read_at for job in batch)
        name = self.sink.name
        attempt = 0
        last = self._last_error
        while True:
            await self._pace()
            now = self._clock()
            wait = self._breaker.wait_s(now)
            if wait > 0:
                if now - read_at + wait > self._policy.give_up_after_s:
                    return GaveUp(attempt, f"circuit open after repeated failures ({last})")
                await self._sleep(wait)
                continue
            probe = self._breaker.state(now) is BreakerState.HALF_OPEN
            if probe:
                if self._probing:  # another delivery probes the sink: wait for its answer
                    await self._until(self._probe_over)
                    continue
                self._probing, self._probe_over = True, asyncio.Event()
            if attempt > 0:
                self._metrics.count(name, "retried")
            attempt += 1
            sent_at = self._clock()
            try:
                receipt = await self.sink.send(envelopes, attempt)
            except DeliveryFailed as exc:
                self._end_probe(probe)
                self._last_send = self._clock()
                self._metrics.attempt(name, exc)
                last = self._last_error = exc.reason
                decision = self._judge(exc, attempt, read_at, sent_at)
                if isinstance(decision, GaveUp):
                    return decision
                log.warning(
                    "sink %s: attempt %d failed (%s); next attempt in %.1fs",
                    name,
                    attempt,
                    exc.reason,
                    decision,
                )
                await self._sleep(decision)
                continue
            except asyncio.CancelledError:
                self._end_probe(probe)
                raise
            except Exception as exc:  # a bug in a sink must not stop its worker for good
                self._end_probe(probe)
                log.exception("sink %s: internal error while sending", name)
                self._metrics.attempt(name, None)
                return GaveUp(attempt, f"internal error in the sink: {type(exc).__name__}")
            self._last_send = self._clock()
            self._metrics.attempt(name, receipt)
            self._breaker.record_success()
            self._end_probe(probe)
            return Delivered(attempt, receipt)

    def _end_probe(self, probe: bool) -> None:
        """The probe's answer is in (its caller judges it before anything else runs)."""
        if probe:
            self._probing = False
            self._probe_over.set()

    def _judge(
        self, exc: DeliveryFailed, attempt: int, read_at: float, sent_at: float
    ) -> GaveUp | float:
        """After a failure: give up, or the seconds to wait before the next attempt."""
        now = self._clock()
        if exc.sink_down:
            was = self._breaker.state(now)
            self._breaker.record_failure(now, sent_at)
            opened = self._breaker.state(now) is BreakerState.OPEN
            if opened and was is not BreakerState.OPEN:
                self._metrics.note_circuit_opened(self.sink.name)
            if opened and was is BreakerState.CLOSED:
                log.warning(
                    "sink %s: circuit open for %.0fs after %d failures in a row",
                    self.sink.name,
                    self._breaker.wait_s(now),
                    self._breaker.threshold,
                )
        else:
            self._breaker.record_success()  # it answered: the sink is up
        if not exc.retryable:
            return GaveUp(attempt, exc.reason)
        decision = self._policy.after_failure(
            attempt=attempt,
            elapsed_s=now - read_at,
            rand=self._rng.random(),
            retry_after_s=exc.retry_after_s,
        )
        if isinstance(decision, GiveUp):
            return GaveUp(attempt, f"{decision.why}; last error: {exc.reason}")
        return decision.wait_s

    async def _pace(self) -> None:
        """Keep ``min_interval_s`` from the end of one send to the start of the next, so
        that requests also *arrive* at least that far apart."""
        if self._last_send is not None and self.sink.min_interval_s > 0:
            wait = self._last_send + self.sink.min_interval_s - self._clock()
            if wait > 0:
                await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or raise :class:`_Stopped` as soon as the worker is told to stop."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Stopped

    async def _until(self, event: asyncio.Event) -> None:
        """Wait for ``event``, or raise :class:`_Stopped` as soon as the worker is told to stop."""
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stopping.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if self._stopping.is_set():
            raise _Stopped


class _Stopped(Exception):
    """The worker was told to stop while waiting; what it held stays unsettled."""
