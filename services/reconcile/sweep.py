"""Event-time order for events listed window by window (pure).

Windows are of *creation* time; events are ordered by *finish* time. A build created in
a window can finish after it ends, but never before it starts, so once the window
``[lo, hi)`` is listed, every event before ``hi`` is known and can go out in order; the
rest waits for later windows::

    created:   [w1 )[w2 )[w3 )
    events:     a  b   c  d    e        after w1: a, b out; the build of c (created
                └──┘   └──┘             in w1, finishing in w2) waits in ``pending``

Resuming after an interruption starts from :meth:`Sweep.resume_from`: the creation
time of the oldest build still waiting, so nothing waiting is lost (what was already
out is recognised by its event id and not published again).
"""

from __future__ import annotations

from datetime import datetime

from services.reconcile.events import Event

__all__ = ["Sweep"]


class Sweep:
    def __init__(self) -> None:
        self.pending: list[Event] = []

    def add(self, events: list[Event]) -> None:
        self.pending.extend(events)

    def release(self, before: datetime | None) -> list[Event]:
        """Events before ``before`` (all when ``None``), in event-time order."""
        if before is None:
            ready, self.pending = self.pending, []
        else:
            ready = [e for e in self.pending if e.at < before]
            self.pending = [e for e in self.pending if e.at >= before]
        return sorted(ready, key=lambda e: e.order)

    def resume_from(self, hi: datetime) -> datetime:
        """Where listing must start again so that no pending event is lost."""
        created = [e.build_created_at for e in self.pending if e.build_created_at is not None]
        return min([hi, *created])
