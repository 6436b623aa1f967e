"""Reading alerts back from ``alerts``: the last N of every partition, merged.

For ``kitestream alerts tail``. It reads each partition's end, in chunks that grow
backwards until the partition has given N alerts that the filter lets through (or has
none left), and merges the partitions' alerts by ``created_at``::

    partition 0  [ .......... | ........ | .. ]  end
                              ◀── 400 ── ◀100   (stepping back while fewer than N fit)

so ``-n 10`` on a topic of millions reads about a hundred records per partition. No
consumer group: nothing is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.alerts import Alert
from services.common.topics import partition_counts
from services.dispatcher.alertfilter import AlertFilter, Seen, last

__all__ = ["decode", "partition_count", "read_last"]

log = logging.getLogger(__name__)

FIRST_CHUNK = 100  # records read back from a partition's end before reading further back


async def partition_count(
    bootstrap_servers: str, topic: str, *, wait: bool, stop: asyncio.Event
) -> int:
    """The topic's partition count; with ``wait``, wait (until ``stop``) for it to exist."""
    while True:
        count = (await partition_counts(bootstrap_servers, [topic]))[topic]
        if count or not wait:
            if not count:
                log.warning("%s does not exist (yet): no alerts to show", topic)
            return count
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            continue
        return 0


async def read_last(
    consumer: AIOKafkaConsumer,
    ends: Mapping[TopicPartition, int],
    lines: int | None,
    chosen: AlertFilter,
) -> list[Seen]:
    """The last ``lines`` alerts (``None``: all) before ``ends`` that ``chosen`` lets
    through, oldest first. ``consumer`` has the partitions assigned; they are left
    resumed, at no particular position."""
    partitions = list(ends)
    starts = await consumer.beginning_offsets(partitions)
    consumer.pause(*partitions)
    seen: list[Seen] = []
    try:
        for tp in partitions:
            consumer.resume(tp)  # fetch one partition at a time
            seen += await _partition_tail(consumer, tp, (starts[tp], ends[tp]), lines, chosen)
            consumer.pause(tp)
    finally:
        consumer.resume(*partitions)
    return last(seen, lines)


async def _partition_tail(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    span: tuple[int, int],
    lines: int | None,
    chosen: AlertFilter,
) -> list[Seen]:
    """At least the last ``lines`` alerts of one partition that ``chosen`` lets through (or
    all it has). Reads back from the end in growing chunks, so ``-n 10`` on a long topic
    reads about a hundred records, not all of them."""
    first, stop = span
    chunk = max(lines or 0, FIRST_CHUNK)
    found: list[Seen] = []
    while stop > first:
        start = first if lines is None else max(first, stop - chunk)
        found = await _read(consumer, tp, (start, stop), chosen) + found
        if lines is not None and len(found) >= lines:
            break
        stop, chunk = start, chunk * 4
    return found


async def _read(
    consumer: AIOKafkaConsumer, tp: TopicPartition, span: tuple[int, int], chosen: AlertFilter
) -> list[Seen]:
    """The alerts ``chosen`` lets through at offsets ``start <= offset < stop`` of ``tp``."""
    start, stop = span
    consumer.seek(tp, start)
    found: list[Seen] = []
    while await consumer.position(tp) < stop:
        batches = await consumer.getmany(tp, timeout_ms=500)
        for record in batches.get(tp, []):
            if record.offset >= stop:
                break
            alert = decode(record.value, record.offset)
            if alert is not None and chosen.matches(alert):
                found.append(Seen(alert, record.timestamp, tp.partition, record.offset))
    return found


def decode(value: bytes | None, offset: int) -> Alert | None:
    """The alert, or ``None`` for a tombstone or (with a warning) what is not an alert."""
    if value is None:
        return None
    try:
        return Alert.model_validate_json(value)
    except ValidationError:
        log.warning("skipping an invalid alert at offset %d", offset)
        return None
