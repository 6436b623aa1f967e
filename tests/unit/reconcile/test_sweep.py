"""Window by window, events go out in event-time order, and resuming loses none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.topics import Topic
from services.reconcile.events import Event
from services.reconcile.sweep import Sweep

T0 = datetime(2026, 8, 1, tzinfo=UTC)


def event(name: str, finished_h: float, created_h: float) -> Event:
    return Event(
        Topic.JOBS,
        "web",
        name,
        b"{}",
        T0 + timedelta(hours=finished_h),
        "job",
        T0 + timedelta(hours=created_h),
    )


def test_events_before_the_window_end_go_out_in_order_and_later_ones_wait() -> None:
    sweep = Sweep()
    sweep.add([event("b", 0.5, 0.1), event("long", 3.5, 0.2), event("a", 0.3, 0.0)])
    assert [e.event_id for e in sweep.release(T0 + timedelta(hours=1))] == ["a", "b"]
    assert sweep.resume_from(T0 + timedelta(hours=1)) == T0 + timedelta(hours=0.2)
    sweep.add([event("c", 1.5, 1.0)])
    assert [e.event_id for e in sweep.release(T0 + timedelta(hours=2))] == ["c"]
    sweep.add([event("d", 2.2, 2.0)])
    assert [e.event_id for e in sweep.release(None)] == ["d", "long"]
    assert sweep.resume_from(T0 + timedelta(hours=3)) == T0 + timedelta(hours=3)
