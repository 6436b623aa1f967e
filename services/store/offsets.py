"""The consumed offsets, kept in the database next to the rows they cover.

``store_offsets`` holds, per (consumer group, topic, partition), the offset of the next
record to read. The store writes it in the same transaction as the rows of a batch and
seeks to it when a partition is assigned, so each record lands in the database once.

Writes are conditional: a batch says which offset it started from, and the update
matches only when the stored offset is still that one. An instance that lost a
partition in a rebalance, but still writes a batch it had read, finds the offset moved
(or the row made) by the new owner and rolls back (:class:`OffsetMoved`).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.store.tables import store_offsets

__all__ = ["OffsetMoved", "read_offsets", "save_offsets"]

TopicPartition = tuple[str, int]


class OffsetMoved(Exception):
    """Another writer stored an offset for a partition this batch covers."""


def read_offsets(conn: Connection, group_id: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The next offset per (topic, partition) stored for ``group_id``."""
    t = store_offsets.c
    query = sa.select(t.topic, t.partition, t.next_offset).where(
        t.group_id == group_id, t.topic.in_(topics)
    )
    return {(row.topic, row.partition): int(row.next_offset) for row in conn.execute(query)}


def save_offsets(
    conn: Connection,
    group_id: str,
    offsets: Mapping[TopicPartition, int],
    expected: Mapping[TopicPartition, int | None],
) -> None:
    """Store ``offsets`` if each partition's stored offset is still ``expected`` (None:
    no row yet); raise :class:`OffsetMoved` otherwise (the caller's transaction rolls
    back)."""
    t = store_offsets.c
    for (topic, partition), next_offset in sorted(offsets.items()):
        before = expected.get((topic, partition))
        if before is None:
            try:
                conn.execute(
                    sa.insert(store_offsets).values(
                        group_id=group_id, topic=topic, partition=partition, next_offset=next_offset
                    )
                )
            except sa.exc.IntegrityError:
                raise OffsetMoved(f"{topic}[{partition}] was stored by another writer") from None
            continue
        done = conn.execute(
            sa.update(store_offsets)
            .where(
                t.group_id == group_id,
                t.topic == topic,
                t.partition == partition,
                t.next_offset == before,
            )
            .values(next_offset=next_offset)
        )
        if done.rowcount != 1:
            raise OffsetMoved(f"{topic}[{partition}] moved past {before} in another writer")
