"""The rolling window of one test or step: the last N executions within T.

Whichever bound is tighter wins. With N = 4 and T = 10 days, after an execution at
day 30 arrives::

    day:   12    17    22    24    27    30
           ·     ·     ×     ×     ×     ×      N keeps the newest four
                 ·     ·                         T drops what is older than day 20

Executions are ordered by event time (ties by attempt, then event id), never by
arrival, so any arrival order of the same executions leaves the same window: the
window of a set is its newest N within T, and an execution that arrives too late
for the window (older than its oldest member when full, or older than T before its
newest) is refused and changes nothing. Whatever it held, the same executions
offered again in the order it took them (:meth:`Window.take`) leave the same window,
which is how the changelog restores one. (Not in any order: an event id that left by
age may come back later with another time, and then be taken again.)

Storage is compact and kept in order: the times in one ``array('d')`` (found by
bisection), and per execution a 13-byte record in one ``bytearray``: event-id hash
(searched with ``bytearray.find``, so a duplicate is found without boxing 50
numbers), the index of its :class:`Context` in the shared :class:`Contexts` table,
and outcome + attempt. 21 bytes an execution, and two buffers a window.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from typing import Final, NamedTuple

from services.flakiness.execution import Context, Execution, event_hash

__all__ = ["Contexts", "Slot", "Window"]

# Final: compiled, these are C statics rather than a module dictionary lookup per use
_MAX_ATTEMPT: Final = 127
_RECORD: Final = struct.Struct("<qIB")  # event-id hash, context index, failed | attempt << 1
_EID: Final = struct.Struct("<q")
_WIDTH: Final = _RECORD.size
_NEVER: Final = float("-inf")
_new: Final = tuple.__new__  # a named tuple without its Python-level constructor
_pack: Final = _RECORD.pack  # bound once: no method lookup per call
_pack_eid: Final = _EID.pack
_unpack_from: Final = _RECORD.unpack_from


class Contexts:
    """The contexts that window slots refer to, by index, counted by the slots holding each.

    Every result of one job shares one context; a slot stores its 4-byte index, and a
    context is forgotten when no slot holds it any more. Index 0 is never used.
    ``held`` counts the slots holding any context: every execution of every window
    that shares the table.
    """

    __slots__ = ("_free", "_index", "_items", "_last", "_refs", "held")

    def __init__(self) -> None:
        self._items: list[Context | None] = [None]
        self._refs: list[int] = [0]
        self._index: dict[Context, int] = {}
        self._free: list[int] = []
        self._last = 0
        self.held = 0

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> Context:
        ctx = self._items[i]
        assert ctx is not None
        return ctx

    def canonical(self, ctx: Context) -> Context:
        """The instance the table holds of a context equal to ``ctx``, else ``ctx``
        (holding the same instance again skips comparing contexts field by field)."""
        i = self._index.get(ctx)
        return ctx if i is None else self[i]

    def hold(self, ctx: Context) -> int:
        self.held += 1
        last = self._last
        if last and self._items[last] is ctx:  # the common case: the same job as before
            self._refs[last] += 1
            return last
        i = self._index.get(ctx)
        if i is None:
            if self._free:
                i = self._free.pop()
                self._items[i] = ctx
                self._refs[i] = 1
            else:
                i = len(self._items)
                self._items.append(ctx)
                self._refs.append(1)
            self._index[ctx] = i
        else:
            self._refs[i] += 1
        self._last = i
        return i

    def release(self, i: int) -> None:
        self.held -= 1
        self._refs[i] -= 1
        if self._refs[i] == 0:
            ctx = self._items[i]
            assert ctx is not None
            del self._index[ctx]
            self._items[i] = None
            self._free.append(i)
            if self._last == i:
                self._last = 0


class Slot(NamedTuple):
    """One execution as the window holds it."""

    at: float
    eid: int
    context: Context
    failed: bool
    attempt: int

    @property
    def order(self) -> tuple[float, int, int]:
        return (self.at, self.attempt, self.eid)


class Window:
    """Up to ``size`` executions, none older than ``max_age_s`` before the newest."""

    __slots__ = ("_rec", "_table", "failures", "times")

    def __init__(self, contexts: Contexts) -> None:
        """``times``: when each execution ran, oldest first (read it, do not change it;
        ``len(window.times)`` is ``len(window)`` without a Python call)."""
        self._table = contexts
        self.times = array("d")
        self._rec = bytearray()
        self.failures = 0

    def __len__(self) -> int:
        return len(self.times)

    @property
    def newest(self) -> float:
        """The time of the newest execution (``-inf`` when empty)."""
        return self.times[-1] if self.times else _NEVER

    def __iter__(self) -> Iterator[Slot]:
        """The executions, oldest first."""
        return iter(self.ordered())

    def ordered(self) -> list[Slot]:
        """The executions, oldest first."""
        table, rows = self._table, _RECORD.iter_unpack(self._rec)
        return [
            _new(Slot, (at, eid, table[ci], bool(bits & 1), bits >> 1))
            for at, (eid, ci, bits) in zip(self.times, rows, strict=True)
        ]

    def holds(self, eid: int) -> bool:
        rec, needle = self._rec, _EID.pack(eid)
        p = rec.find(needle)
        while p >= 0:
            if p % _WIDTH == 0:
                return True
            p = rec.find(needle, p + 1)
        return False

    def count_after(self, t: float) -> int:
        """How many executions are newer than ``t``."""
        return len(self.times) - bisect_right(self.times, t)

    def add(
        self, execution: Execution, size: int, max_age_s: float, eid: int | None = None
    ) -> Sequence[Slot] | None:
        """Take ``execution`` in: what it pushed out, or ``None`` when it is a duplicate
        or too old. ``eid``: its event-id hash, if already at hand."""
        if eid is None:
            eid = event_hash(execution.event_id)  # (not the property: a call fewer)
        bits = (min(execution.attempt, _MAX_ATTEMPT) << 1) | execution.failed
        return self._take(
            execution.at, eid, execution.context, bits, size=size, max_age_s=max_age_s
        )

    def take(
        self, row: tuple[float, int, Context, int], size: int, max_age_s: float
    ) -> Sequence[Slot] | None:
        """:meth:`add` for an execution given as (time, event-id hash, context, failed |
        attempt << 1)."""
        at, eid, ctx, bits = row
        if bits >> 1 > _MAX_ATTEMPT:
            bits = (_MAX_ATTEMPT << 1) | (bits & 1)
        return self._take(at, eid, ctx, bits, size=size, max_age_s=max_age_s)

    def _take(
        self, at: float, eid: int, ctx: Context, bits: int, *, size: int, max_age_s: float
    ) -> Sequence[Slot] | None:
        times, rec = self.times, self._rec
        n = pos = len(times)
        if n:
            newest = times[-1]
            if at < newest - max_age_s:
                return None
            needle = _pack_eid(eid)  # holds(eid), inline: this runs once per result
            p = rec.find(needle)
            while p >= 0:
                if p % _WIDTH == 0:
                    return None
                p = rec.find(needle, p + 1)
            if at <= newest:  # not the common case: newer than everything held
                pos = self._position(at, bits >> 1, eid)
        evicted: Sequence[Slot] = ()
        if n >= size:
            if pos == 0:  # older than the oldest of a full window
                return None
            evicted = [self._pop(0)]
            n, pos = n - 1, pos - 1
        ci = self._table.hold(ctx)
        if pos == n:
            times.append(at)
            rec += _pack(eid, ci, bits)
            self.failures += bits & 1
        else:
            self._insert(pos, at, eid, ci, bits)
        if times[0] < at - max_age_s:
            evicted = [*evicted, *self.expire(max_age_s)]
        return evicted

    def expire(self, max_age_s: float) -> list[Slot]:
        """Drop what is older than ``max_age_s`` before the newest."""
        old = bisect_left(self.times, self.newest - max_age_s)
        return [self._pop(0) for _ in range(old)]

    def trim(self, size: int, max_age_s: float) -> list[Slot]:
        """Drop what is older than ``max_age_s`` before the newest, then the oldest
        beyond ``size`` (a restored window, after the settings changed)."""
        gone = self.expire(max_age_s)
        gone.extend(self._pop(0) for _ in range(len(self.times) - size))
        return gone

    def clear(self) -> list[Slot]:
        """Drop everything; return what was held."""
        held = list(self)
        for _, ci, _ in _RECORD.iter_unpack(self._rec):
            self._table.release(ci)
        self.times, self._rec, self.failures = array("d"), bytearray(), 0
        return held

    # -- raw rows, for the changelog -------------------------------------------------

    def contexts(self) -> Iterator[Context]:
        """The context of each execution, oldest first."""
        table = self._table
        return (table[ci] for _, ci, _ in _RECORD.iter_unpack(self._rec))

    def rows(self) -> list[tuple[float, int, int, int]]:
        """Every execution as (time, event-id hash, context index, failed | attempt << 1)."""
        return [
            (at, eid, ci, bits)
            for at, (eid, ci, bits) in zip(self.times, _RECORD.iter_unpack(self._rec), strict=True)
        ]

    def load(self, rows: list[tuple[float, int, Context, int]]) -> None:
        """Replace everything with ``rows`` (time, event-id hash, context, bits) as
        :meth:`rows` gave them: in order, no duplicates (restoring a whole window)."""
        self.clear()
        hold, pack = self._table.hold, _RECORD.pack
        self.times = array("d", [row[0] for row in rows])
        self._rec = bytearray(b"".join([pack(eid, hold(ctx), bits) for _, eid, ctx, bits in rows]))
        self.failures = sum(row[3] & 1 for row in rows)

    # -- inside ----------------------------------------------------------------------

    def _position(self, at: float, attempt: int, eid: int) -> int:
        """Where an execution goes in (time, attempt, event id) order."""
        times = self.times
        pos = bisect_right(times, at)
        if pos and times[pos - 1] == at:  # a tie on time: attempt, then event id
            first = bisect_left(times, at)
            while pos > first:
                other, _, bits = _unpack_from(self._rec, (pos - 1) * _WIDTH)
                if (bits >> 1, other) < (attempt, eid):
                    break
                pos -= 1
        return pos

    def _insert(self, pos: int, at: float, eid: int, ci: int, bits: int) -> None:
        self.times.insert(pos, at)
        start = pos * _WIDTH
        self._rec[start:start] = _pack(eid, ci, bits)
        self.failures += bits & 1

    def _pop(self, i: int) -> Slot:
        start = i * _WIDTH
        eid, ci, bits = _unpack_from(self._rec, start)
        del self._rec[start : start + _WIDTH]
        slot = _new(Slot, (self.times.pop(i), eid, self._table[ci], bool(bits & 1), bits >> 1))
        self._table.release(ci)
        self.failures -= bits & 1
        return slot
