"""Which offsets may be committed while sinks settle at their own pace."""

from __future__ import annotations

from services.dispatcher.offsets import OffsetTracker


def test_the_committable_offset_is_the_lowest_unsettled_one() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    for offset in range(10, 15):
        tracker.track(0, offset, deliveries=1)
    for offset in (10, 12, 13):
        tracker.settle(0, offset)
    assert tracker.committable() == {0: 11}
    assert tracker.in_flight == 2
    tracker.settle(0, 11)
    tracker.settle(0, 14)
    assert tracker.committable() == {0: 15}


def test_an_alert_waits_for_every_sink_it_goes_to() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.track("p", 5, deliveries=2)
    tracker.settle("p", 5)
    assert tracker.committable() == {"p": 5}
    tracker.settle("p", 5)
    assert tracker.committable() == {"p": 6}


def test_alerts_with_no_sink_are_settled_at_once() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    tracker.track(1, 0, deliveries=0)
    tracker.track(1, 1, deliveries=0)
    assert tracker.committable() == {1: 2}
    assert tracker.in_flight == 0


def test_only_moved_watermarks_are_offered_again() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    tracker.track(0, 0, deliveries=0)
    tracker.track(1, 0, deliveries=1)
    offers = tracker.committable()
    assert offers == {0: 1, 1: 0}
    tracker.committed(offers)
    assert tracker.committable() == {}
    tracker.settle(1, 0)
    assert tracker.committable() == {1: 1}


def test_forgotten_partitions_are_neither_offered_nor_settled() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    tracker.track(0, 7, deliveries=1)
    tracker.track(1, 3, deliveries=1)
    tracker.forget([0])
    tracker.settle(0, 7)  # a late settlement from before the revocation
    assert tracker.committable() == {1: 3}
    assert tracker.in_flight == 1
