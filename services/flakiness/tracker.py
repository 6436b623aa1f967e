"""The flakiness core for one partition: windows, runs and flags, with no Kafka in it.

``Tracker.add(execution)`` takes one execution and returns the :class:`Changes` it
caused: slots to write to the changelog, statuses and runs to publish, flags raised
or cleared. A duplicate or an execution too old for its window changes nothing and
gives ``None``.

Everything the tracker holds can be rebuilt from its windows' slots and each
subject's :class:`Meta` (run counts and the partition's clock are derived from the
windows); ``Changes`` says which of those changed, so the changelog can write them.
Putting the slots and metas back (:meth:`Tracker.restore_entry`) and calling
:meth:`Tracker.finish_restore` gives a tracker that behaves exactly like the one that
wrote them, which is what makes a restart invisible in the outputs.

Time is event time. Each subject's own newest execution is its clock for windows and
clearing; the partition's clock (the newest execution of any subject) drives one
housekeeping pass per hour of event time, which drops subjects that have not run for
a whole window (clearing their flag, if any).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from services.flakiness.evidence import Summary, find, summarize
from services.flakiness.execution import Execution, Subject, event_hash, interned
from services.flakiness.runs import Run, RunBook, RunKey
from services.flakiness.settings import FlakinessSettings
from services.flakiness.status import Change, Meta
from services.flakiness.window import Contexts, Slot, Window

__all__ = ["Alerted", "Changes", "Entry", "Tracker"]

HOUSEKEEPING_EVERY_S: Final = 3600.0

T = TypeVar("T")


class Entry(Window):
    """One tracked test or step: its window, plus its status once it had evidence.

    ``segment`` and ``deltas`` belong to the changelog: where the entry's last whole
    record went and how many partial ones followed it (``None``: never written)."""

    __slots__ = ("deltas", "flips", "meta", "segment", "subject")

    def __init__(self, subject: Subject, contexts: Contexts) -> None:
        super().__init__(contexts)
        self.subject = subject
        self.meta: Meta | None = None
        self.flips = 0
        self.segment: int | None = None
        self.deltas = 0

    def summary(self) -> Summary:
        return Summary(len(self), self.failures, self.flips)

    @property
    def flaky(self) -> bool:
        return self.meta is not None and self.meta.flaky


@dataclass(frozen=True, slots=True)
class Alerted:
    """A flag raised or cleared, to be announced once."""

    subject: Subject
    change: Change
    episode: int
    at: float
    reason: str = ""


class Changes:
    """What one execution changed, in the order it happened.

    ``execution`` (event-id hash ``eid``) went into ``entry``'s window; ``cleared``:
    windows emptied (the entry may be gone from :attr:`Tracker.entries` too);
    ``metas``: statuses changed; ``states`` and ``runs``: what to publish; ``alerts``:
    flags raised or cleared. One is made per execution and most say nothing more than
    what went where, so the lists are made on first use (empty tuples until then)."""

    __slots__ = ("alerts", "at", "cleared", "eid", "entry", "execution", "metas", "runs", "states")

    def __init__(self, entry: Entry, execution: Execution, eid: int) -> None:
        self.entry = entry
        self.execution = execution
        self.eid = eid
        self.at = execution.at
        self.cleared: Sequence[Entry] = ()
        self.metas: Sequence[Entry] = ()
        self.states: Sequence[Subject] = ()
        self.alerts: Sequence[Alerted] = ()
        self.runs: Sequence[RunKey] = ()

    def clear(self, entry: Entry) -> None:
        self.cleared = _grown(self.cleared, entry)

    def meta(self, entry: Entry) -> None:
        self.metas = _grown(self.metas, entry)

    def state(self, subject: Subject) -> None:
        self.states = _grown(self.states, subject)

    def alert(self, alerted: Alerted) -> None:
        self.alerts = _grown(self.alerts, alerted)

    def run(self, key: RunKey) -> None:
        self.runs = _grown(self.runs, key)


class Tracker:
    """Windows, runs and flags of every subject of one partition."""

    def __init__(self, settings: FlakinessSettings) -> None:
        self.settings = settings
        self.entries: dict[Subject, Entry] = {}
        self.runs = RunBook(settings)
        self.watermark = float("-inf")
        self.contexts = Contexts()
        self._hour = float("-inf")
        self._size = settings.window_size
        self._max_age_s = settings.window_s
        # read once: a pydantic settings attribute is a slow read on the per-result path
        self._min_tests = settings.outage_min_tests
        self._fraction = settings.outage_fraction
        self._listed = settings.failed_tests_listed

    # -- processing ------------------------------------------------------------------

    def add(self, execution: Execution, eid: int | None = None) -> Changes | None:
        """Take ``execution`` in (``eid``: its event-id hash, if already at hand)."""
        entry = self.entries.get(execution.subject)
        fresh = entry is None
        if entry is None:
            entry = Entry(interned(execution.subject), self.contexts)
        runs_before, failures_before = len(entry.times), entry.failures
        if eid is None:
            eid = event_hash(execution.event_id)  # (not the property: a call fewer)
        evicted = entry.add(execution, self._size, self._max_age_s, eid)
        if evicted is None:
            return None
        subject = entry.subject
        if fresh:
            self.entries[subject] = entry
        changes = Changes(entry, execution, eid)
        if evicted:  # (most results push nothing out: no iterator made)
            self._left(subject, evicted)
        key = execution.context.run
        if key is not None and not (
            execution.failed or entry.failures or failures_before or entry.meta
        ):
            self._pass(entry, key, runs_before, changes)
        else:
            before = (runs_before, failures_before, entry.flips)
            if key is None:
                self._judge(entry, before, execution.at, changes)
            else:
                run, was_outage = self._enter_run(entry, execution)
                self._judge(entry, before, execution.at, changes)
                self._after_run(run, entry, execution, was_outage, changes)
        if execution.at > self.watermark:
            self.watermark = execution.at
            if self.watermark // HOUSEKEEPING_EVERY_S > self._hour:
                self._hour = self.watermark // HOUSEKEEPING_EVERY_S
                self._housekeeping(changes)
        return changes

    def _left(self, subject: Subject, evicted: Sequence[Slot]) -> None:
        """Executions of ``subject`` that left its window leave their runs."""
        for old in evicted:
            if old.context.run is not None:
                self.runs.leave(subject, old.context, old.failed)

    def _pass(self, entry: Entry, key: RunKey, runs_before: int, changes: Changes) -> None:
        """The common case, what ``_enter_run``, ``_judge`` and ``_after_run`` come to
        for a pass of a subject with no failure in its window and no status: the run
        counts one more (the subject is not among its failing ones), the state is
        published on the first execution and when the window fills, the run on its
        first result and when its outage judgement changes."""
        runs, size = len(entry.times), self._size
        if runs == 1 or (runs == size and runs_before < size):
            changes.state(entry.subject)
        run = self.runs.get(key)
        if run is None:
            self.runs.enter(entry.subject, changes.execution.context, False, 0)
            changes.run(key)
            return
        if not run.failed:  # a run with no failure is no outage, before or after
            run.total += 1
            return
        min_tests, fraction = self._min_tests, self._fraction
        was_outage = run.outage(min_tests, fraction)
        run.total += 1
        if was_outage != run.outage(min_tests, fraction):
            changes.run(key)
            if was_outage:
                self._rejudge(run, entry, changes)

    def _rejudge(self, run: Run, entry: Entry, changes: Changes) -> None:
        """The run stopped looking like an outage: look again at its other failures."""
        for subject in list(run.failing):
            other = self.entries[subject]
            if other is not entry:
                self._judge(other, (len(other), other.failures, other.flips), None, changes)

    def _enter_run(self, entry: Entry, execution: Execution) -> tuple[Run, bool]:
        context = execution.context
        key = context.run
        assert key is not None
        run = self.runs.get(key)
        was_outage = run is not None and run.outage(self._min_tests, self._fraction)
        passes = 0
        if execution.failed and (run is None or entry.subject not in run.failing):
            passes = sum(1 for s in entry if s.context.run == key and not s.failed)
        return self.runs.enter(entry.subject, context, execution.failed, passes, run), was_outage

    def _after_run(
        self, run: Run, entry: Entry, execution: Execution, was_outage: bool, changes: Changes
    ) -> None:
        """Publish the run when it matters; look again at its failures if it stopped
        looking like an outage."""
        outage = run.outage(self._min_tests, self._fraction)
        failing = run.failed_tests
        listed = self._listed
        counts = run.failing.get(entry.subject)
        if (
            run.total == 1
            or outage != was_outage
            or (execution.failed and (failing <= listed or _pow2(failing)))
            or (not execution.failed and counts is not None and counts[1] == 1)
        ):
            changes.run(run.context.run)  # type: ignore[arg-type]
        if was_outage and not outage:
            self._rejudge(run, entry, changes)

    def _judge(
        self,
        entry: Entry,
        before: tuple[int, int, int],
        added_at: float | None,
        changes: Changes,
    ) -> None:
        """Look at the subject's evidence and status again; note what to publish.

        ``before`` is (runs, failures, flips) before the change."""
        size = self._size
        if entry.failures == 0 and before[1] == 0 and entry.meta is None:
            # the common case, a test that keeps passing: nothing to look for
            runs = len(entry)
            if runs == 1 or (runs == size and before[0] < size):
                changes.state(entry.subject)
            return
        window: Window = entry
        ordered = window.ordered() if window.failures else None
        summary = summarize(window, ordered)
        entry.flips = summary.flips
        found = find(window, self.settings, self.runs.is_outage, ordered) if ordered else []
        meta = entry.meta
        change: Change | None = None
        meta_changed = False
        if found or meta is not None:
            meta = meta or Meta()
            was = (meta.flaky, meta.episodes, meta.last_evidence_at, meta.after)
            change = meta.observe(found, window.newest, added_at, window.count_after, self.settings)
            now = (meta.flaky, meta.episodes, meta.last_evidence_at, meta.after)
            if now != was:
                entry.meta = meta
                changes.meta(entry)
                meta_changed = now[:3] != was[:3]
        if (
            meta_changed
            or summary.failures != before[1]
            or summary.flips != before[2]
            or summary.runs == 1
            or (summary.runs == size and before[0] < size)
        ):
            changes.state(entry.subject)
        if change is not None:
            assert meta is not None
            reason = meta.evidence[-1].detail if change == "flagged" and meta.evidence else ""
            changes.alert(
                Alerted(entry.subject, change, meta.episodes, changes.at, reason or _why(change))
            )

    def _housekeeping(self, changes: Changes) -> None:
        """Drop the windows of subjects that have not run for a whole window (in key
        order: the entries' own order differs after a restore)."""
        cutoff = self.watermark - self._max_age_s
        idle = [e for e in self.entries.values() if len(e) and e.newest < cutoff]
        for entry in sorted(idle, key=lambda e: e.subject.key):
            subject = entry.subject
            changes.clear(entry)
            for slot in entry.clear():
                if slot.context.run is not None:
                    self.runs.leave(subject, slot.context, slot.failed)
            changes.state(subject)
            if entry.meta is None or entry.meta.episodes == 0:
                del self.entries[subject]
                continue
            entry.flips = 0
            change = entry.meta.expire()
            if change is not None:
                reason = "no executions for a whole window"
                changes.alert(Alerted(subject, change, entry.meta.episodes, changes.at, reason))

    # -- restoring ---------------------------------------------------------------------

    def restore_entry(self, subject: Subject) -> Entry:
        """The subject's entry, created empty if need be, for the changelog to fill in."""
        entry = self.entries.get(subject)
        if entry is None:
            subject = interned(subject)
            entry = self.entries[subject] = Entry(subject, self.contexts)
        return entry

    def forget(self, subject: Subject) -> None:
        """Drop the subject's entry, if any (restoring)."""
        entry = self.entries.pop(subject, None)
        if entry is not None:
            entry.clear()

    def finish_restore(self) -> None:
        """Derive runs, flips and clocks from the restored windows."""
        for entry in self.entries.values():
            entry.trim(self._size, self._max_age_s)
            self._count_runs(entry)
            entry.flips = summarize(entry).flips
            if len(entry):
                self.watermark = max(self.watermark, entry.newest)
        self._hour = self.watermark // HOUSEKEEPING_EVERY_S

    def _count_runs(self, entry: Entry) -> None:
        if not entry.failures:  # the common case: only the totals move
            for ctx in entry.contexts():
                if ctx.run is not None:
                    self.runs.count_pass(ctx)
            return
        # failures first, so that each pass finds its subject's failures already counted
        for slot in sorted(entry, key=lambda s: not s.failed):
            if slot.context.run is not None:
                self.runs.enter(entry.subject, slot.context, slot.failed, 0)


def _grown(items: Sequence[T], item: T) -> list[T]:
    """``items`` with ``item`` appended: the list itself, or a new one for an empty tuple."""
    if isinstance(items, list):
        items.append(item)
        return items
    return [item]


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _why(change: Change) -> str:
    return "new flaky evidence" if change == "flagged" else "no new evidence"
