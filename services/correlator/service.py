"""The running correlator: both stages in one process, the catalog reloaded on SIGHUP.

Stage 1 (consumer group ``<group>-repartition``) and stage 2 (``<group>``) are two
:class:`~services.common.processor.StreamProcessor` s on one event loop; if either
stops with an error, the other is stopped too. Scaling out is running more instances
with distinct ``KITESTREAM_CORRELATOR_INSTANCE_ID`` s: each stage splits its partitions.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from services.common.metrics import ProcessorMetrics, serve_metrics
from services.common.processor import PartitionTask, StreamProcessor
from services.common.topics import Topics, TopicSpec, create_with_state
from services.correlator.settings import CorrelatorSettings
from services.correlator.task import (
    CatalogHolder,
    CorrelationTask,
    CorrelatorTopics,
    RepartitionTask,
)

__all__ = ["prepare_topics", "run_correlator"]

log = logging.getLogger(__name__)


async def prepare_topics(bootstrap_servers: str, topics: Topics) -> CorrelatorTopics:
    """Create what is missing: the contract topics, and the repartition and changelog
    topics with as many partitions as the inputs (the changelog compacted)."""
    names = CorrelatorTopics.under(topics)
    internal = [
        TopicSpec(names.repartition),
        TopicSpec(names.changelog, {"cleanup.policy": "compact"}),
    ]
    await create_with_state(bootstrap_servers, topics, internal, like=names.builds)
    return names


async def run_correlator(settings: CorrelatorSettings, stop: asyncio.Event) -> None:
    """Run both stages until ``stop`` is set (or one of them fails)."""
    catalog = CatalogHolder(settings.catalog, list(settings.default_branches))
    names = await prepare_topics(settings.bootstrap_servers, Topics(settings.topic_prefix))
    windows = settings.windows()
    metrics = ProcessorMetrics()
    serve_metrics(metrics.registry, settings.metrics_port, "correlator", settings.metrics_host)
    group = f"{settings.topic_prefix}{settings.group_id}"

    def repartition_task(partition: int) -> PartitionTask:
        return RepartitionTask(names, catalog)

    def correlation_task(partition: int) -> PartitionTask:
        return CorrelationTask(names, windows)

    stage1 = StreamProcessor(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"{group}-repartition",
        input_topics=names.inputs,
        task_factory=repartition_task,
        changelog_topic=None,
        dlq_topic=names.dlq,
        service="correlator-repartition",
        instance_id=settings.instance_id,
        max_batch=settings.max_batch,
        metrics=metrics,
    )
    stage2 = StreamProcessor(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group,
        input_topics=[names.repartition],
        task_factory=correlation_task,
        changelog_topic=names.changelog,
        dlq_topic=names.dlq,
        service="correlator",
        instance_id=settings.instance_id,
        max_batch=settings.max_batch,
        metrics=metrics,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, _reload, catalog)
    log.info(
        "correlator up: windows ±%s / %s, retention %s",
        windows.failure,
        windows.incident,
        windows.retention,
    )
    try:
        async with asyncio.TaskGroup() as group_tasks:
            for stage in (stage1, stage2):
                group_tasks.create_task(_until_stopped(stage, stop))
    except ExceptionGroup as failed:  # the stage that failed first stopped the other
        for also in failed.exceptions[1:]:
            log.error("correlator: the other stage failed too: %r", also)
        raise failed.exceptions[0] from None
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        log.info(
            "correlator stopped: %d inputs routed, %d observations correlated",
            stage1.processed,
            stage2.processed,
        )


async def _until_stopped(stage: StreamProcessor, stop: asyncio.Event) -> None:
    """Run one stage; when it ends (error or not), tell the other to stop too."""
    try:
        await stage.run(stop)
    finally:
        stop.set()


def _reload(catalog: CatalogHolder) -> None:
    log.info("SIGHUP: reloading the catalog")
    if catalog.reload():
        log.info("catalog reloaded; correlation state kept")
