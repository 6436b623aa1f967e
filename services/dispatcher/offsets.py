"""Which input offsets may be committed. Pure.

An alert read at offset ``o`` of a partition is *settled* once every sink it goes to has
a delivery record (or it went to the DLQ). Sinks settle at their own pace, so a slow sink
leaves holes; the committable offset of a partition is its lowest unsettled offset, or
one past the last offset read when nothing is pending::

    offsets read:  10  11  12  13  14
    settled:        ✓   ✗   ✓   ✓   ✗      -> commit 11 (a restart reads 11.. again;
                                              the delivery records skip 12 and 13)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["OffsetTracker"]

P = TypeVar("P", bound=Hashable)


class OffsetTracker(Generic[P]):
    """Pending deliveries per (partition, offset); ``P`` names a partition."""

    def __init__(self) -> None:
        # Per partition, pending count per offset; offsets are added in increasing order,
        # so a dict's first key is the lowest pending offset.
        self._pending: dict[P, dict[int, int]] = {}
        self._next: dict[P, int] = {}
        self._committed: dict[P, int] = {}

    @property
    def in_flight(self) -> int:
        """Alerts read and not yet settled, over all partitions."""
        return sum(len(offsets) for offsets in self._pending.values())

    def track(self, partition: P, offset: int, deliveries: int) -> None:
        """Offset ``offset`` was read and waits for ``deliveries`` settlements (may be 0)."""
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)
        if deliveries > 0:
            self._pending.setdefault(partition, {})[offset] = deliveries

    def settle(self, partition: P, offset: int) -> None:
        """One delivery of ``offset`` settled; unknown partitions (revoked) are ignored."""
        offsets = self._pending.get(partition)
        if offsets is None or offset not in offsets:
            return
        offsets[offset] -= 1
        if offsets[offset] <= 0:
            del offsets[offset]

    def forget(self, partitions: Iterable[P]) -> None:
        """Drop revoked partitions: their pending work now belongs to another instance."""
        for partition in partitions:
            self._pending.pop(partition, None)
            self._next.pop(partition, None)
            self._committed.pop(partition, None)

    def committable(self) -> dict[P, int]:
        """Offsets to commit now: only partitions whose watermark moved since last time."""
        moves: dict[P, int] = {}
        for partition, nxt in self._next.items():
            pending = self._pending.get(partition)
            mark = next(iter(pending)) if pending else nxt
            if self._committed.get(partition) != mark:
                moves[partition] = mark
        return moves

    def committed(self, offsets: dict[P, int]) -> None:
        """The broker took these commits."""
        self._committed.update(offsets)
