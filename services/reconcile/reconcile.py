"""One reconcile pass, and the loop of ``kitestream reconcile``.

A pass, with ``C`` the checkpoint and ``now`` the start of the pass::

    finished_from = C − overlap          builds that finished since then are listed
    created_from  = finished_from − max_build_hours
    through       = now − grace          younger events are left to their webhook

    1. list builds created in [created_from, now] that finished since finished_from
       (per pipeline, or the whole organization), jobs embedded, retried jobs included
    2. rebuild their build.finished / job.finished events finished up to ``through``
    3. read the topics' tail from the oldest of those events − overlap: the ids Kafka has
    4. publish the others in event-time order, count them, log them per pipeline
    5. checkpoint ``through`` once Kafka acked them

Without a checkpoint the first pass starts ``interval + overlap`` back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from services.common.topics import Topic, Topics
from services.reconcile import Stopped
from services.reconcile.api import BuildkiteApi
from services.reconcile.checkpoint import Checkpoints
from services.reconcile.events import Event, build_events
from services.reconcile.metrics import ReconcileMetrics
from services.reconcile.publish import Publisher
from services.reconcile.seen import seen_event_ids
from services.reconcile.settings import ReconcileSettings
from services.reconcile.window import builds_in

__all__ = ["Reconciler", "interruptible", "scope_key", "wait_or_stop"]

log = logging.getLogger(__name__)


def scope_key(command: str, organization: str, pipelines: list[str]) -> str:
    return f"{command}:{organization}:{','.join(sorted(pipelines)) or '*'}"


class Reconciler:
    def __init__(
        self,
        settings: ReconcileSettings,
        api: BuildkiteApi,
        producer: AIOKafkaProducer,
        checkpoints: Checkpoints,
        metrics: ReconcileMetrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.api = api
        self.producer = producer
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.clock = clock
        self.topics = Topics(settings.topic_prefix)
        self.scope = scope_key("reconcile", settings.organization, settings.pipelines)

    async def run_once(self) -> list[Event]:
        """One pass; returns what was missing (and is now published)."""
        s = self.settings
        now = self.clock()
        through = now - timedelta(seconds=s.grace_s)
        checkpoint = self.checkpoints.get(self.scope)
        if checkpoint is None:
            checkpoint = now - timedelta(seconds=s.interval_s + s.overlap_s)
        finished_from = min(checkpoint, through) - timedelta(seconds=s.overlap_s)
        created_from = finished_from - timedelta(hours=s.max_build_hours)
        before = self.api.requests
        builds = {}
        targets: list[str | None] = [*s.pipelines] or [None]
        for pipeline in targets:
            builds.update(
                await builds_in(self.api, pipeline, created_from, now, finished_from=finished_from)
            )
        self.metrics.requests.inc(self.api.requests - before)
        events = [e for b in builds.values() for e in build_events(b, now) if e.at <= through]
        events.sort(key=lambda e: e.order)
        missing: list[Event] = []
        if events:
            margin = timedelta(seconds=s.overlap_s)
            names = [self.topics.name(Topic.BUILDS), self.topics.name(Topic.JOBS)]
            seen = await seen_event_ids(s.bootstrap_servers, names, events[0].at - margin)
            publisher = Publisher(self.producer, self.topics, seen, s.send_timeout_s)
            missing = await publisher.publish(events)
        await self.checkpoints.save(self.scope, max(checkpoint, through))
        self._report(len(builds), events, missing, finished_from, through)
        return missing

    def _report(
        self,
        builds: int,
        events: list[Event],
        missing: list[Event],
        finished_from: datetime,
        through: datetime,
    ) -> None:
        for kind, count in Counter(e.kind for e in missing).items():
            self.metrics.missing.labels(kind).inc(count)
        per_pipeline = Counter((e.key, e.kind) for e in missing)
        for pipeline in sorted({key for key, _ in per_pipeline}):
            log.warning(
                "pipeline %s: %d build and %d job events were missing from Kafka; published",
                pipeline,
                per_pipeline[(pipeline, "build")],
                per_pipeline[(pipeline, "job")],
            )
        log.info(
            "reconciled %s to %s: %d builds, %d finished events, %d missing",
            finished_from.isoformat(),
            through.isoformat(),
            builds,
            len(events),
            len(missing),
        )


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when it was."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def interruptible(stop: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    """A sleep for the API client that raises :class:`Stopped` when ``stop`` is set, so
    that a signal does not wait out a rate-limit reset (up to a minute)."""

    async def sleep(seconds: float) -> None:
        if stop.is_set() or await wait_or_stop(stop, seconds):
            raise Stopped("asked to stop")

    return sleep
