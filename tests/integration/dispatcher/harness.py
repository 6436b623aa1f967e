"""Sinks built the way the dispatcher builds them, and a worker running in the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.dispatcher.backoff import RetryPolicy
from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.credentials import SecretSource
from services.dispatcher.outbound import Resolver, system_resolver
from services.dispatcher.records import DeliveredIndex, DeliveryRecord
from services.dispatcher.routing import parse_routes
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.sinks import Sink, build_sinks
from services.dispatcher.worker import Delivered, Job, Outcome, SinkWorker

__all__ = ["FAST", "Settlements", "make_sink", "running_worker"]

# Retries in milliseconds, so tests stay short.
FAST = RetryPolicy(max_attempts=5, base_s=0.02, cap_s=0.1, give_up_after_s=30)


def make_sink(
    config: dict[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    dev_mode: bool = False,
    resolver: Resolver = system_resolver,
    slack_interval_s: float = 0.0,
) -> Sink:
    """One sink named ``sink`` from its routes-file mapping."""
    routes = parse_routes({"sinks": {"sink": config}, "routes": [{"to": ["sink"]}]})
    settings = DispatcherSettings(
        routes=Path("routes.yaml"),
        dev_mode=dev_mode,
        slack_interval_s=slack_interval_s,
        connect_timeout_s=2,
        read_timeout_s=5,
    )
    secrets = SecretSource(environ or {}, Path.cwd())
    return build_sinks(routes, settings, secrets, resolver=resolver)["sink"]


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
) -> AsyncIterator[tuple[SinkWorker, Settlements]]:
    settlements = Settlements(index or DeliveredIndex())
    worker = SinkWorker(
        sink,
        policy=policy,
        breaker=breaker or CircuitBreaker(threshold=1000),
        index=settlements.index,
        settle=settlements,
    )
    task = asyncio.create_task(worker.run())
    try:
        yield worker, settlements
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
        await sink.aclose()
