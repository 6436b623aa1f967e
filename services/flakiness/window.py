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
newest) is refused and changes nothing.

Storage is compact and slot-indexed: slot *s* holds one execution until it is
evicted (by N, the newcomer takes its slot; by T, the slot becomes a hole that the
next newcomer fills). Slots are stable, so the changelog can hold one record per
slot and overwrite it in place. A slot takes 21 bytes: time, event-id hash, the index
of its :class:`Context` in the shared :class:`Contexts` table, and outcome + attempt.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from services.flakiness.execution import Context, Execution

__all__ = ["Added", "Contexts", "Slot", "Window"]

_HOLE_AT = float("inf")  # holes sort after everything, so min() finds the oldest
_MAX_ATTEMPT = 127


class Contexts:
    """The contexts that window slots refer to, by index, counted by the slots holding each.

    Every result of one job shares one context; a slot stores its 4-byte index, and a
    context is forgotten when no slot holds it any more. Index 0 means "no context"
    (an empty slot). ``held`` counts the slots holding any context: every live slot of
    every window that shares the table.
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


@dataclass(frozen=True, slots=True)
class Slot:
    """One execution as the window holds it."""

    index: int
    at: float
    eid: int
    context: Context
    failed: bool
    attempt: int

    @property
    def order(self) -> tuple[float, int, int]:
        return (self.at, self.attempt, self.eid)


@dataclass(frozen=True, slots=True)
class Added:
    """Where an accepted execution went and what it pushed out."""

    index: int
    evicted: list[Slot]


class Window:
    """Up to ``size`` executions, none older than ``max_age_s`` before the newest."""

    __slots__ = ("_at", "_bits", "_ctx", "_eid", "_live", "_table", "failures", "newest")

    def __init__(self, contexts: Contexts) -> None:
        self._table = contexts
        self._at = array("d")
        self._eid = array("q")
        self._ctx = array("I")  # 0: an empty slot
        self._bits = bytearray()  # bit 0: failed; bits 1-7: attempt
        self._live = 0
        self.failures = 0
        self.newest = float("-inf")

    def __len__(self) -> int:
        return self._live

    @property
    def capacity(self) -> int:
        """Slots in use or emptied (the changelog may hold a record for each)."""
        return len(self._ctx)

    def __iter__(self) -> Iterator[Slot]:
        """Live slots in slot order (not time order; see :meth:`ordered`)."""
        for i, ci in enumerate(self._ctx):
            if ci:
                yield self._slot(i)

    def ordered(self) -> list[Slot]:
        """Live slots, oldest first."""
        return sorted(self, key=lambda s: s.order)

    def holds(self, eid: int) -> bool:
        if eid not in self._eid:
            return False
        return any(e == eid and c for e, c in zip(self._eid, self._ctx, strict=True))

    def count_after(self, t: float) -> int:
        """How many executions are newer than ``t``."""
        return sum(1 for a in self._at if t < a < _HOLE_AT)

    def add(
        self, execution: Execution, size: int, max_age_s: float, context: Context | None = None
    ) -> Added | None:
        """Take ``execution`` in, or ``None`` when it is a duplicate or too old.

        ``context`` replaces the execution's own (an equal, shared instance)."""
        eid = execution.eid
        at = execution.at
        if at < self.newest - max_age_s or self.holds(eid):
            return None
        attempt = min(execution.attempt, _MAX_ATTEMPT)
        evicted: list[Slot] = []
        live = self._live
        if live >= size:
            oldest = self._oldest()
            if (at, attempt, eid) < oldest.order:
                return None
            index = oldest.index
            evicted.append(oldest)
            self._drop(index)
        else:
            index = self._ctx.index(0) if live < len(self._ctx) else len(self._ctx)
        self.put(
            index, at, eid, context or execution.context, failed=execution.failed, attempt=attempt
        )
        if min(self._at) < at - max_age_s:
            evicted.extend(self.expire(max_age_s))
        return Added(index, evicted)

    def put(
        self, index: int, at: float, eid: int, ctx: Context, *, failed: bool, attempt: int
    ) -> None:
        """Write one slot as it is (restoring from the changelog)."""
        while len(self._ctx) <= index:
            self._at.append(_HOLE_AT)
            self._eid.append(0)
            self._ctx.append(0)
            self._bits.append(0)
        if self._ctx[index]:
            self._drop(index)
        self._at[index] = at
        self._eid[index] = eid
        self._ctx[index] = self._table.hold(ctx)
        self._bits[index] = (min(attempt, _MAX_ATTEMPT) << 1) | int(failed)
        self.failures += int(failed)
        self._live += 1
        self.newest = max(self.newest, at)

    def expire(self, max_age_s: float) -> list[Slot]:
        """Drop what is older than ``max_age_s`` before the newest."""
        cutoff = self.newest - max_age_s
        old = [slot for slot in self if slot.at < cutoff]
        for slot in old:
            self._drop(slot.index)
        return old

    def clear(self) -> list[Slot]:
        """Drop everything; return what was held."""
        held = list(self)
        for slot in held:
            self._drop(slot.index)
        self._at, self._eid, self._ctx, self._bits = array("d"), array("q"), array("I"), bytearray()
        self.newest = float("-inf")
        return held

    # -- raw rows, for the changelog -------------------------------------------------

    def row(self, i: int) -> tuple[float, int, int, int] | None:
        """Slot ``i`` as (time, event-id hash, context index, outcome + attempt bits), or
        ``None`` when it is empty."""
        if i >= len(self._ctx) or not self._ctx[i]:
            return None
        return (self._at[i], self._eid[i], self._ctx[i], self._bits[i])

    def rows(self) -> list[tuple[int, float, int, int, int]]:
        """Every live slot as (index, time, event-id hash, context index, bits)."""
        at, eid, bits = self._at, self._eid, self._bits
        return [(i, at[i], eid[i], c, bits[i]) for i, c in enumerate(self._ctx) if c]

    def context_indices(self) -> set[int]:
        """Indices (in the shared table) of the contexts the live slots refer to."""
        used = set(self._ctx)
        used.discard(0)
        return used

    def reset(self, capacity: int) -> None:
        """Empty every slot and leave ``capacity`` empty ones (restoring a whole window)."""
        self.clear()
        self._at = array("d", [_HOLE_AT]) * capacity
        self._eid = array("q", bytes(8 * capacity))
        self._ctx = array("I", bytes(4 * capacity))
        self._bits = bytearray(capacity)

    def vacate(self, i: int) -> None:
        """Empty slot ``i`` if it holds an execution (restoring)."""
        if i < len(self._ctx) and self._ctx[i]:
            self._drop(i)

    def _slot(self, i: int) -> Slot:
        bits = self._bits[i]
        ctx = self._table[self._ctx[i]]
        return Slot(i, self._at[i], self._eid[i], ctx, bool(bits & 1), bits >> 1)

    def _oldest(self) -> Slot:
        first = min(self._at)
        if self._at.count(first) == 1:
            return self._slot(self._at.index(first))
        return min((s for s in self if s.at == first), key=lambda s: s.order)

    def _drop(self, index: int) -> None:
        self._table.release(self._ctx[index])
        self._live -= 1
        self.failures -= self._bits[index] & 1
        self._at[index] = _HOLE_AT
        self._eid[index] = 0
        self._ctx[index] = 0
        self._bits[index] = 0
