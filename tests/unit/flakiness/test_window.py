"""The window holds the last N executions within T, whichever is tighter."""

from __future__ import annotations

import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from services.flakiness.window import Contexts, Window
from tests.unit.flakiness.timeline import T0, days, result


def times(window: Window) -> list[float]:
    return [s.at for s in window.ordered()]


def test_window_keeps_only_the_last_n_executions() -> None:
    window = Window(Contexts())
    for n in range(7):
        window.add(result(T0 + n, failed=False), 5, days(14))
    assert times(window) == [T0 + n for n in range(2, 7)]


def test_window_drops_executions_older_than_t_before_the_newest() -> None:
    window = Window(Contexts())
    for d in (0, 5, 10, 16):
        window.add(result(T0 + days(d), failed=False), 50, days(14))
    assert times(window) == [T0 + days(5), T0 + days(10), T0 + days(16)]


def test_whichever_bound_is_tighter_wins() -> None:
    window = Window(Contexts())
    for d in (0, 12, 17, 22, 24, 27, 30):
        window.add(result(T0 + days(d), failed=False), 4, days(10))
    assert times(window) == [T0 + days(22), T0 + days(24), T0 + days(27), T0 + days(30)]


def test_a_duplicate_event_id_is_refused() -> None:
    window = Window(Contexts())
    assert window.add(result(T0, failed=True, event="e-1"), 50, days(14)) is not None
    assert window.add(result(T0 + 5, failed=False, event="e-1"), 50, days(14)) is None
    assert len(window) == 1
    assert window.failures == 1


def test_an_execution_older_than_a_full_window_is_refused() -> None:
    window = Window(Contexts())
    for n in range(1, 4):
        window.add(result(T0 + n, failed=False), 3, days(14))
    assert window.add(result(T0, failed=True), 3, days(14)) is None
    assert window.failures == 0


def test_an_execution_older_than_t_is_refused() -> None:
    window = Window(Contexts())
    window.add(result(T0 + days(20), failed=False), 50, days(14))
    assert window.add(result(T0, failed=True), 50, days(14)) is None


def test_a_newcomer_to_a_full_window_pushes_out_the_oldest() -> None:
    window = Window(Contexts())
    for n in (2, 0, 1):
        pushed_out = window.add(result(T0 + n, failed=False), 3, days(14))
        assert pushed_out is not None
        assert not pushed_out
    evicted = window.add(result(T0 + 10, failed=True), 3, days(14))
    assert evicted is not None
    assert [e.at for e in evicted] == [T0]
    assert times(window) == [T0 + 1, T0 + 2, T0 + 10]


def test_executions_at_the_same_time_are_ordered_by_attempt_then_event_id() -> None:
    window = Window(Contexts())
    for attempt, event in ((2, "b"), (1, "z"), (1, "a"), (3, "c")):
        window.add(result(T0, failed=attempt == 1, attempt=attempt, event=event), 50, days(14))
    assert [s.order for s in window] == sorted(s.order for s in window)
    assert [s.attempt for s in window] == [1, 1, 2, 3]
    assert window.failures == 2


def test_an_event_id_hash_matching_bytes_across_two_records_is_not_a_duplicate() -> None:
    window = Window(Contexts())
    window.add(result(T0, failed=False, event="0000000000000001"), 50, days(14))
    window.add(result(T0 + 1, failed=False, event="0100000000000000"), 50, days(14))
    # records are (hash, context index, bits) = 13 bytes; these 8 bytes span the first
    # record's context index and bits and the second's hash
    straddling = result(T0 + 2, failed=False, event="0000000002000000")
    assert struct.pack("<q", straddling.eid) in bytes(window._rec)
    assert window.add(straddling, 50, days(14)) is not None
    assert len(window) == 3
    assert window.add(straddling, 50, days(14)) is None  # now it is one


def test_the_executions_offered_again_in_the_order_taken_give_the_same_window() -> None:
    made = [
        result(T0, failed=False, event="e0"),
        result(T0 + days(1), failed=True, event="e2"),
        result(T0 + days(6), failed=False, event="e1"),  # e0 leaves by age...
        result(T0 + days(4), failed=True, event="e0"),  # ...and comes back at another time
        result(T0 + days(5), failed=False, event="e3"),
        result(T0 + days(7), failed=False, event="e4"),  # the window is full: e0 goes
    ]
    window, taken = Window(Contexts()), []
    for execution in made:
        if window.add(execution, 3, days(5)) is not None:
            taken.append(execution)
    again = Window(Contexts())
    for x in taken:
        again.take((x.at, x.eid, x.context, (x.attempt << 1) | x.failed), 3, days(5))
    assert again.ordered() == window.ordered()
    assert again.failures == window.failures == 0
    assert [s.at for s in window] == [T0 + days(d) for d in (5, 6, 7)]


def test_a_window_loaded_from_its_rows_is_the_same_window() -> None:
    contexts = Contexts()
    window, again = Window(contexts), Window(contexts)
    for d in (3, 1, 2, 5):
        window.add(result(T0 + days(d), failed=d == 2, event=f"e{d}"), 50, days(14))
    again.load([(at, eid, contexts[ci], bits) for at, eid, ci, bits in window.rows()])
    assert again.ordered() == window.ordered()
    assert again.failures == 1
    assert contexts.held == 8


executions = st.lists(
    st.tuples(st.floats(0, days(40)), st.booleans(), st.integers(0, 30)),
    max_size=80,
)


@settings(max_examples=150)
@given(executions, st.integers(2, 12), st.floats(days(1), days(20)), st.randoms())
def test_window_never_holds_more_than_n_or_older_than_t_and_ignores_arrival_order(
    items: list[tuple[float, bool, int]], size: int, max_age: float, rnd: random.Random
) -> None:
    made = [result(T0 + at, failed=f, event=f"e{ev}-{at}-{f}") for at, f, ev in items]
    shuffled = list(made)
    rnd.shuffle(shuffled)
    windows = []
    for order in (made, shuffled):
        window = Window(Contexts())
        for execution in order:
            window.add(execution, size, max_age)
            assert len(window) <= size
            assert all(s.at >= window.newest - max_age for s in window)
        windows.append(window)
    first, second = ({(s.at, s.eid, s.failed) for s in w} for w in windows)
    assert first == second
    assert windows[0].failures == sum(1 for s in windows[0] if s.failed)


def test_contexts_are_shared_and_forgotten_when_no_slot_holds_them() -> None:
    contexts = Contexts()
    window = Window(contexts)
    for n in range(3):
        window.add(result(T0 + n, failed=False, build="1"), 2, days(14))
    window.add(result(T0 + 10, failed=False, build="2"), 2, days(14))
    assert len(contexts) == 2  # build 1's context held by one slot, build 2's by another
    window.add(result(T0 + 11, failed=False, build="2"), 2, days(14))
    assert len(contexts) == 1
    assert {s.context.build_id for s in window} == {"build-2"}
