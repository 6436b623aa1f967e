"""The flakiness processor on the shared stream runtime (``kitestream flakiness``).

Reads ``tests.results`` and ``buildkite.jobs``, keeps one :class:`FlakinessTask` per
partition (restored from the compacted changelog ``kitestream.flakiness-changelog``
before it sees a record), and writes ``flakiness.state``, ``tests.runs`` and
``alerts`` in the same Kafka transaction as the changelog and the input offsets.
Alerts name the catalog service (``KITESTREAM_CATALOG``, reloaded on SIGHUP) their test's
suite or pipeline belongs to (:mod:`services.flakiness.owners`). Scaling out is running
more instances with distinct instance ids in one group.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports wait until the command runs
    from services.common.topics import Topics
    from services.flakiness.owners import Owners
    from services.flakiness.settings import FlakinessSettings, ServiceSettings
    from services.flakiness.task import FlakinessTopics

__all__ = ["GC_THRESHOLDS", "prepare_topics", "serve", "tune_gc"]

log = logging.getLogger(__name__)

# The cyclic garbage collector's thresholds for the processor's process (CPython's
# default: 700, 10, 10). Each result makes a few short-lived container objects (its
# execution, what it changed, the changelog's note of it), freed by reference counting
# and never part of a cycle, so most young collections find nothing; at 50,000 they
# run 70 times less often. 5% fewer instructions per result (callgrind, the task alone,
# docs/benchmarks.md#flakiness); the memory per tracked test does not move.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Set :data:`GC_THRESHOLDS` for this process."""
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(settings: ServiceSettings, core: FlakinessSettings, stop: asyncio.Event) -> None:
    """Run the processor until ``stop`` is set."""
    from services.common.metrics import ProcessorMetrics, serve_metrics
    from services.common.processor import KafkaClients, PartitionTask, StreamProcessor
    from services.common.topics import Topics
    from services.flakiness.owners import Owners
    from services.flakiness.partitioner import partition_of
    from services.flakiness.task import FlakinessTask

    tune_gc()
    owners = Owners.load(settings.catalog)
    names = await prepare_topics(settings.bootstrap_servers, Topics(settings.topic_prefix))
    metrics = ProcessorMetrics()
    serve_metrics(metrics.registry, settings.metrics_port, "flakiness", settings.metrics_host)

    def task(partition: int) -> PartitionTask:
        return FlakinessTask(partition, names, core, owners=owners)

    processor = StreamProcessor(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"{settings.topic_prefix}{settings.group_id}",
        input_topics=[names.results, names.jobs],
        task_factory=task,
        changelog_topic=names.changelog,
        dlq_topic=names.dlq,
        service="flakiness",
        instance_id=settings.instance_id,
        max_batch=settings.max_batch,
        metrics=metrics,
        clients=KafkaClients(settings.bootstrap_servers, partitioner=partition_of),
    )
    log.info(
        "flakiness up as %s: last %d executions within %g days, clear after %g days or %d runs",
        settings.instance_id,
        core.window_size,
        core.window_days,
        core.clear_after_days,
        core.clear_after_runs,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, _reload, owners)
    try:
        await processor.run(stop)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        log.info(
            "flakiness stopped: %d records in %d transactions, %d dead letters",
            processor.processed,
            processor.transactions,
            processor.dead_letters,
        )


def _reload(owners: Owners) -> None:
    log.info("SIGHUP: reloading the catalog")
    if owners.reload():
        log.info("catalog reloaded: new flaky alerts name its services")


async def prepare_topics(bootstrap_servers: str, topics: Topics) -> FlakinessTopics:
    """Create what is missing: the contract topics, and the changelog (compacted) with
    as many partitions as ``tests.results``."""
    from services.common.topics import TopicSpec, create_with_state
    from services.flakiness.task import FlakinessTopics

    names = FlakinessTopics.under(topics)
    changelog = TopicSpec(names.changelog, {"cleanup.policy": "compact"})
    await create_with_state(bootstrap_servers, topics, [changelog], like=names.results)
    return names
