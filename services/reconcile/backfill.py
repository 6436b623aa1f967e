"""``kitestream backfill``: load past weeks from the REST API, oldest first.

Per scope (each ``--pipeline``, or the whole organization), from ``since`` (or the
scope's checkpoint, when an earlier run got further) to ``now − grace``::

    for each window of creation time [lo, lo + chunk_hours), oldest first:
        list its builds (jobs embedded, retried jobs included)
        release the events finished before the window's end, in event-time order,
        publish those Kafka does not have yet (ids read from the topics' tail once)
        checkpoint where a restart must list again (Sweep.resume_from)

Interrupted (SIGINT, SIGTERM, a crash), it starts again at the checkpoint and skips what
Kafka already has, so nothing is published twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from services.common.topics import Topic, Topics
from services.reconcile import Stopped
from services.reconcile.events import build_events
from services.reconcile.progress import Progress
from services.reconcile.publish import Publisher
from services.reconcile.reconcile import scope_key
from services.reconcile.seen import seen_event_ids
from services.reconcile.service import Connections, connect
from services.reconcile.settings import ReconcileSettings
from services.reconcile.sweep import Sweep
from services.reconcile.window import builds_in

__all__ = ["backfill"]

log = logging.getLogger(__name__)


async def backfill(
    settings: ReconcileSettings,
    since: timedelta,
    pipelines: list[str],
    stop: asyncio.Event,
    *,
    now: datetime | None = None,
) -> Counter[str]:
    """Backfill each of ``pipelines`` (or the organization); published events by kind."""
    now = now or datetime.now(UTC)
    through = now - timedelta(seconds=settings.grace_s)
    published: Counter[str] = Counter()
    async with connect(settings, stop) as conn:
        targets: list[str | None] = [*pipelines] or [None]
        for pipeline in targets:
            if stop.is_set():
                break
            try:
                published += await _scope(
                    settings, conn, pipeline, since=now - since, through=through, stop=stop
                )
            except Stopped:
                log.info("%s: stopped; run the same command again to resume", pipeline or "*")
                break
    return published


async def _scope(
    settings: ReconcileSettings,
    conn: Connections,
    pipeline: str | None,
    *,
    since: datetime,
    through: datetime,
    stop: asyncio.Event,
) -> Counter[str]:
    label = pipeline or f"{settings.organization} (all pipelines)"
    key = scope_key("backfill", settings.organization, [pipeline] if pipeline else [])
    start = max(since, conn.checkpoints.get(key) or since)
    published: Counter[str] = Counter()
    if start >= through:
        log.info("%s: already backfilled to %s", label, start.isoformat())
        return published
    topics = Topics(settings.topic_prefix)
    names = [topics.name(Topic.BUILDS), topics.name(Topic.JOBS)]
    margin = timedelta(seconds=settings.overlap_s)
    seen = await seen_event_ids(settings.bootstrap_servers, names, start - margin)
    publisher = Publisher(conn.checkpoints.producer, topics, seen, settings.send_timeout_s)
    sweep = Sweep()
    chunk = timedelta(hours=settings.chunk_hours)
    progress = Progress(label, (through - start).total_seconds())
    lo = start
    try:
        while lo < through and not stop.is_set():
            hi = min(lo + chunk, through)
            fetched_at = datetime.now(UTC)
            builds = await builds_in(conn.api, pipeline, lo, hi)
            sweep.add([e for b in builds.values() for e in build_events(b, fetched_at)])
            last = hi >= through
            ready = [e for e in sweep.release(None if last else hi) if e.at <= through]
            published.update(e.kind for e in await publisher.publish(ready))
            await conn.checkpoints.save(key, through if last else sweep.resume_from(hi))
            lo = hi
            progress.show(
                (hi - start).total_seconds(),
                f"{hi:%Y-%m-%d %H:%M} · {sum(published.values())} events published",
            )
    finally:
        progress.close()
    log.info(
        "%s: backfilled from %s: %d build and %d job events published%s",
        label,
        start.isoformat(),
        published["build"],
        published["job"],
        "" if lo >= through else f" (stopped at {lo.isoformat()}; run again to resume)",
    )
    return published
