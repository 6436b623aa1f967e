"""Which queued deliveries a sink may start, and what that means for committed offsets."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import pytest

from services.dispatcher.offsets import OffsetTracker
from services.dispatcher.window import Pick, Window


@dataclass(frozen=True)
class Item:
    alert_id: str
    subject: str | None
    offset: int = 0


def items(*specs: tuple[str, str | None]) -> deque[Item]:
    return deque(Item(a, s, n) for n, (a, s) in enumerate(specs))


def pick(window: Window[Item], queue: deque[Item], max_batch: int = 1) -> Pick[Item]:
    return window.pick(queue, max_batch, current=lambda i: True, settled=lambda i: False)


def ids(jobs: list[Item] | deque[Item]) -> list[str]:
    return [job.alert_id for job in jobs]


def test_up_to_the_window_size_deliveries_start_and_the_rest_stay_queued_in_order() -> None:
    window: Window[Item] = Window(3)
    queue = items(*((f"a{n}", f"k{n}") for n in range(5)))
    started = [ids(pick(window, queue).batch) for _ in range(4)]
    assert started == [["a0"], ["a1"], ["a2"], []]
    assert window.full
    assert window.in_flight == 3
    assert ids(queue) == ["a3", "a4"]


def test_a_released_slot_lets_the_next_delivery_start() -> None:
    window: Window[Item] = Window(1)
    queue = items(("a0", "k0"), ("a1", "k1"))
    first = pick(window, queue).batch
    assert pick(window, queue).batch == []
    window.release(first)
    assert ids(pick(window, queue).batch) == ["a1"]


def test_alerts_of_one_key_go_one_at_a_time_in_the_order_read() -> None:
    window: Window[Item] = Window(8)
    queue = items(("a0", "svc"), ("a1", "svc"), ("a2", "other"), ("a3", "svc"), ("a4", None))
    first = pick(window, queue).batch
    assert ids(first) == ["a0"]
    # a1 and a3 wait behind a0 (same key); a2 and a4 overtake them.
    assert ids(pick(window, queue).batch) == ["a2"]
    assert ids(pick(window, queue).batch) == ["a4"]
    assert pick(window, queue).batch == []
    assert ids(queue) == ["a1", "a3"]
    window.release(first)
    assert ids(pick(window, queue).batch) == ["a1"]
    assert pick(window, queue).batch == []  # a3 waits behind a1


def test_alerts_without_a_key_have_no_order() -> None:
    window: Window[Item] = Window(4)
    queue = items(("a0", None), ("a1", None), ("a2", None))
    assert [ids(pick(window, queue).batch) for _ in range(3)] == [["a0"], ["a1"], ["a2"]]


def test_a_copy_of_an_alert_in_flight_waits_and_is_then_skipped_as_settled() -> None:
    window: Window[Item] = Window(4)
    queue = items(("a0", None), ("a0", None), ("a1", None))
    settled: set[str] = set()

    def take() -> Pick[Item]:
        return window.pick(
            queue, 1, current=lambda i: True, settled=lambda i: i.alert_id in settled
        )

    first = take().batch
    assert ids(take().batch) == ["a1"]  # the copy of a0 waits
    assert ids(queue) == ["a0"]
    settled.add("a0")
    window.release(first)
    again = take()
    assert again.batch == []
    assert ids(again.done) == ["a0"]


def test_a_batch_takes_distinct_alerts_and_copies_ride_along() -> None:
    window: Window[Item] = Window(1)
    queue = items(("a0", "k"), ("a0", "k"), ("a1", "k"), ("a2", None), ("a3", None))
    taken = pick(window, queue, max_batch=3)
    assert ids(taken.batch) == ["a0", "a1", "a2"]  # one key may share a batch: it is one call
    assert ids(taken.riders) == ["a0"]
    assert ids(queue) == ["a3"]


def test_jobs_of_revoked_partitions_are_dropped_and_settled_ones_are_done() -> None:
    window: Window[Item] = Window(2)
    queue = items(("gone", None), ("old", "k"), ("new", "k"))
    taken = window.pick(
        queue,
        1,
        current=lambda i: i.alert_id != "gone",
        settled=lambda i: i.alert_id == "old",
    )
    assert ids(taken.done) == ["old"]
    assert ids(taken.batch) == ["new"]
    assert not queue


def test_a_window_holds_at_least_one_delivery() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Window(0)


@pytest.mark.parametrize("seed", range(20))
def test_commits_stay_below_every_unsettled_alert_so_a_crash_resends_at_most_the_window(
    seed: int,
) -> None:
    """Deliveries settle in random order; at any moment, an instance that restarts from
    the committed offset and skips what has a record resends only what is in flight."""
    rng = random.Random(seed)  # noqa: S311 - a schedule, not a secret
    size = rng.randint(1, 6)
    window: Window[Item] = Window(size)
    tracker: OffsetTracker[int] = OffsetTracker()
    queue: deque[Item] = deque()
    for offset in range(60):
        queue.append(Item(f"a{offset}", rng.choice(["k1", "k2", "k3", None]), offset))
        tracker.track(0, offset, deliveries=1)
    recorded: set[int] = set()
    flying: list[Item] = []
    committed = 0
    while queue or flying:
        while batch := pick(window, queue).batch:
            flying.extend(batch)
        assert len(flying) <= size
        keys = [job.subject for job in flying if job.subject is not None]
        assert len(keys) == len(set(keys))  # one delivery per key at a time
        done = flying.pop(rng.randrange(len(flying)))
        recorded.add(done.offset)
        tracker.settle(0, done.offset)
        window.release([done])
        committed = tracker.committable().get(0, committed)
        tracker.committed({0: committed})
        assert all(offset in recorded for offset in range(committed))
        in_flight = {job.offset for job in flying}
        resent_after_crash = {o for o in range(committed, 60) if o not in recorded} - {
            job.offset for job in queue
        }
        assert resent_after_crash == in_flight
        assert len(resent_after_crash) <= size
    assert committed == 60
