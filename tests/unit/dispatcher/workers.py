"""A sink worker running in the test, settled the way the dispatcher settles (also used
by tests/integration/dispatcher)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from services.dispatcher.backoff import RetryPolicy
from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.records import DeliveredIndex, DeliveryRecord
from services.dispatcher.sinks import Sink
from services.dispatcher.worker import Delivered, Job, Outcome, SinkWorker

__all__ = ["FAST", "Settlements", "running_worker"]

# Retries in milliseconds, so tests stay short.
FAST = RetryPolicy(max_attempts=5, base_s=0.02, cap_s=0.1, give_up_after_s=30)


class Settlements:
    """The ``settle`` callback: keeps outcomes, and records deliveries in the index the
    way the dispatcher does."""

    def __init__(self, index: DeliveredIndex) -> None:
        self.index = index
        self.outcomes: list[tuple[list[str], Outcome]] = []

    async def __call__(self, sink: str, jobs: Sequence[Job], outcome: Outcome) -> None:
        self.outcomes.append(([job.alert.alert_id for job in jobs], outcome))
        if isinstance(outcome, Delivered):
            for job in jobs:
                self.index.add(
                    DeliveryRecord(
                        alert_id=job.alert.alert_id,
                        sink=sink,
                        outcome="skipped" if outcome.receipt.skipped else "delivered",
                        attempts=outcome.attempts,
                        at=datetime.now(UTC),
                        kind=job.alert.kind,
                        created_at=job.alert.created_at,
                        subject=job.subject,
                    )
                )

    def settled_ids(self) -> list[str]:
        return [alert_id for ids, _ in self.outcomes for alert_id in ids]

    async def wait(self, count: int, timeout_s: float = 20.0) -> list[Outcome]:
        """Until ``count`` alerts are settled; their outcomes, one per alert."""
        async with asyncio.timeout(timeout_s):
            while len(self.settled_ids()) < count:  # noqa: ASYNC110 - polled on purpose
                await asyncio.sleep(0.01)
        return [outcome for ids, outcome in self.outcomes for _ in ids]


@asynccontextmanager
async def running_worker(
    sink: Sink,
    *,
    policy: RetryPolicy = FAST,
    breaker: CircuitBreaker | None = None,
    index: DeliveredIndex | None = None,
    clock: Callable[[], float] = time.monotonic,
    metrics: DispatcherMetrics | None = None,
    concurrency: int = 1,
) -> AsyncIterator[tuple[SinkWorker, Settlements]]:
    """``sink``'s worker running in a task; stopped, and the sink closed, on the way out."""
    settlements = Settlements(index or DeliveredIndex())
    worker = SinkWorker(
        sink,
        policy=policy,
        breaker=breaker or CircuitBreaker(threshold=1000),
        index=settlements.index,
        settle=settlements,
        clock=clock,
        metrics=metrics,
        concurrency=concurrency,
    )
    task = asyncio.create_task(worker.run())
    try:
        yield worker, settlements
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
        await sink.aclose()
