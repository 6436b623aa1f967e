"""Coarse shared deadlines behave like ``asyncio.timeout``, at most one tick late."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.receiver.deadlines import RESOLUTION_S, Deadlines, deadline


async def test_a_block_that_overruns_its_deadline_raises_timeout_error() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError), deadline(0.1):
        await asyncio.sleep(5)
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 0.1 + RESOLUTION_S + 0.5


async def test_a_block_that_finishes_in_time_is_left_alone() -> None:
    with deadline(0.2) as within:
        await asyncio.sleep(0.01)
    assert not within.expired
    await asyncio.sleep(0.3)  # the tick's timer fires later and must not cancel us now
    task = asyncio.current_task()
    assert task is not None
    assert not task.cancelling()


async def test_the_timer_of_a_tick_is_shared_by_its_deadlines() -> None:
    shared = Deadlines(resolution_s=10.0)  # every deadline below falls in one tick
    loop = asyncio.get_running_loop()
    before = len(loop._scheduled)  # type: ignore[attr-defined]
    blocks = [shared.within(1.0) for _ in range(50)]
    for block in blocks:
        block.__enter__()
    assert len(loop._scheduled) - before == 1  # type: ignore[attr-defined]
    for block in blocks:
        block.__exit__(None, None, None)


async def test_many_concurrent_deadlines_each_fire_for_their_own_block() -> None:
    async def slow(seconds: float) -> str:
        try:
            with deadline(seconds):
                await asyncio.sleep(1.0)
        except TimeoutError:
            return "timeout"
        return "done"

    async def quick() -> str:
        with deadline(0.05):
            await asyncio.sleep(0)
        await asyncio.sleep(0.3)  # past the deadline, outside the block
        return "done"

    results = await asyncio.gather(*(slow(0.05) for _ in range(5)), *(quick() for _ in range(5)))
    assert results == ["timeout"] * 5 + ["done"] * 5


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def guarded() -> None:
        with deadline(5.0):
            await asyncio.sleep(5)

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_timeout_error_raised_inside_is_not_mistaken_for_the_deadline() -> None:
    with pytest.raises(TimeoutError, match="inner"), deadline(5.0) as within:
        raise TimeoutError("inner")
    assert not within.expired


async def test_nested_deadlines_the_inner_one_firing_first() -> None:
    with deadline(5.0) as outer:
        with pytest.raises(TimeoutError), deadline(0.05):
            await asyncio.sleep(5)
        await asyncio.sleep(0.01)  # the outer block goes on uncancelled
    assert not outer.expired


def test_deadlines_work_in_one_event_loop_after_another() -> None:
    async def overrun() -> bool:
        try:
            with deadline(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return True
        return False

    assert asyncio.run(overrun())
    assert asyncio.run(overrun())


def test_a_deadline_outside_a_task_is_an_error() -> None:
    with pytest.raises(RuntimeError), deadline(1.0):
        pass
