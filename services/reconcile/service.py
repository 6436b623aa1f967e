"""The IO shell of reconcile and backfill: topics, the producer, the HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from aiokafka.errors import KafkaError

from services.common.kafka import make_producer
from services.common.metrics import serve_metrics
from services.common.topics import Topics, create_topics, topic_specs
from services.reconcile import ReconcileError, Stopped
from services.reconcile.api import BuildkiteApi
from services.reconcile.checkpoint import Checkpoints, checkpoint_spec
from services.reconcile.metrics import ReconcileMetrics
from services.reconcile.reconcile import Reconciler, interruptible, wait_or_stop
from services.reconcile.settings import DEFAULT_METRICS_PORT, ReconcileSettings

__all__ = ["FAILURES", "Connections", "connect", "run_reconcile"]

log = logging.getLogger(__name__)

# What a pass can fail with and the service lives through (it tries again next interval).
FAILURES = (ReconcileError, KafkaError, TimeoutError, OSError)


@dataclass
class Connections:
    api: BuildkiteApi
    checkpoints: Checkpoints


@contextlib.asynccontextmanager
async def connect(settings: ReconcileSettings, stop: asyncio.Event) -> AsyncIterator[Connections]:
    """Topics created, checkpoints loaded, a producer and an HTTP client open."""
    topics = Topics(settings.topic_prefix)
    spec = checkpoint_spec(topics)
    await create_topics(settings.bootstrap_servers, topic_specs(topics, extra=[spec]))
    producer = make_producer(settings.bootstrap_servers, client_id="kitestream-reconcile")
    await producer.start()
    try:
        checkpoints = Checkpoints(spec.name, producer, settings.send_timeout_s)
        await checkpoints.load(settings.bootstrap_servers)
        async with httpx.AsyncClient(headers={"Accept": "application/json"}) as client:
            yield Connections(
                BuildkiteApi(client, settings, sleep=interruptible(stop)), checkpoints
            )
    finally:
        await producer.stop()


async def run_reconcile(
    settings: ReconcileSettings, stop: asyncio.Event, *, once: bool = False
) -> int:
    """Pass after pass every ``interval_s`` until ``stop`` (or one pass with ``once``);
    exit status 0, or 1 when the only pass failed."""
    metrics = ReconcileMetrics()
    if not once:
        port = DEFAULT_METRICS_PORT if settings.metrics_port is None else settings.metrics_port
        serve_metrics(metrics.registry, port, "reconcile", settings.metrics_host)
    async with connect(settings, stop) as conn:
        reconciler = Reconciler(
            settings, conn.api, conn.checkpoints.producer, conn.checkpoints, metrics
        )
        while not stop.is_set():
            try:
                await reconciler.run_once()
            except Stopped:
                log.info("stopped during a pass; it is not checkpointed and runs again next time")
                break
            except FAILURES as exc:
                metrics.passes.labels("failed").inc()
                log.error("reconcile pass failed: %s", exc)
                if once:
                    return 1
            else:
                metrics.passes.labels("ok").inc()
                metrics.last_success.set_to_current_time()
            if once:
                return 0
            await wait_or_stop(stop, settings.interval_s)
    return 0
