"""Coarse deadlines for the hot path: ``with deadline(s):`` instead of ``asyncio.timeout``.

Each webhook had two ``asyncio.timeout``-s (the body read and the produce), and each
made, rescheduled and cancelled an event-loop timer of its own: about 8% of a request's
CPU (docs/benchmarks.md, Receiver). Here the deadlines that end in the same tick of
:data:`RESOLUTION_S` share one timer: entering one puts it in its tick's set (and
schedules that tick's timer if it is the first), leaving it takes it out. When the
tick's timer fires, the tasks still inside a deadline of that tick are cancelled, and
the cancellation comes out of the ``with`` as :class:`TimeoutError`, exactly as with
``asyncio.timeout``: a cancellation from elsewhere (shutdown) stays a cancellation.

A deadline fires after its time, up to one tick late, never early. It is a plain
``with`` (nothing in it needs awaiting), so it costs no coroutine either.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from types import TracebackType

__all__ = ["RESOLUTION_S", "Deadline", "Deadlines", "deadline"]

RESOLUTION_S = 0.05


class Deadlines:
    """The deadlines of each event loop, by tick; :func:`deadline` uses one per process."""

    def __init__(self, resolution_s: float = RESOLUTION_S) -> None:
        self.resolution_s = resolution_s
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[int, set[Deadline]]
        ] = weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None  # the last one, and its ticks
        self._ticks: dict[int, set[Deadline]] = {}

    def within(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from when the ``with`` block is entered."""
        return Deadline(self, seconds)

    def _enter(
        self, entry: Deadline, loop: asyncio.AbstractEventLoop, seconds: float
    ) -> set[Deadline]:
        """The set of ``entry``'s tick, ``entry`` added (the tick's timer made if new)."""
        if loop is not self._loop:
            self._ticks = self._by_loop.setdefault(loop, {})
            self._loop = loop
        ticks = self._ticks
        tick = math.ceil((loop.time() + seconds) / self.resolution_s)
        entries = ticks.get(tick)
        if entries is None:
            entries = ticks[tick] = set()
            loop.call_at(tick * self.resolution_s, _fire, ticks, tick)
        entries.add(entry)
        return entries


def _fire(ticks: dict[int, set[Deadline]], tick: int) -> None:
    for entry in ticks.pop(tick, ()):
        entry.expire()


class Deadline:
    """One ``with`` block's deadline; see the module docstring."""

    __slots__ = ("_cancelling", "_entries", "_expired", "_owner", "_seconds", "_task")

    def __init__(self, owner: Deadlines, seconds: float) -> None:
        self._owner = owner
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._entries: set[Deadline] | None = None
        self._expired = False
        self._cancelling = 0

    @property
    def expired(self) -> bool:
        """Whether the deadline passed while its block ran."""
        return self._expired

    def __enter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._entries = self._owner._enter(self, task.get_loop(), self._seconds)
        return self

    def expire(self) -> None:
        """Cancel the task inside the block (called by the tick's timer)."""
        task = self._task
        if task is not None and not task.done():
            self._expired = True
            task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entries is not None:
            self._entries.discard(self)
        task, self._task = self._task, None
        if (
            self._expired
            and task is not None
            and task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc


_DEADLINES = Deadlines()


def deadline(seconds: float) -> Deadline:
    """``with deadline(s):`` — :class:`TimeoutError` if the block runs more than ``s``
    seconds (up to :data:`RESOLUTION_S` later); see the module docstring."""
    return _DEADLINES.within(seconds)
