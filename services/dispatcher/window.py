"""Which queued deliveries a sink may start now. Pure.

A sink has up to ``size`` deliveries in flight at once (``KITESTREAM_DISPATCHER_SINK_
CONCURRENCY``; a delivery is one request, of one alert or of a Slack batch). Each takes
its own time, so they settle in any order; the offsets committed stay behind the lowest
alert not yet settled (:mod:`services.dispatcher.offsets`), so a crash resends at most
the window's deliveries per sink.

Two rules keep what one alert means to the next::

    queue:  a1(k=svc-a)  a2(k=svc-b)  a3(k=svc-a)  a4(k=None)  a5(k=svc-b)
    in flight: a2                                  -> may start: a1, a4
                                                      (a3 waits behind a1, a5 behind a2)

- **One at a time per key, in the order read.** Alerts with the same Kafka key (the
  service, or the test) go to a sink one after the other: a ``flaky_test_recovered``
  resolves the latest trigger *delivered* under its key, and PagerDuty must see a
  trigger before its resolve. Once a queued alert waits for its key, later alerts of
  that key wait behind it. Alerts without a key have no order.
- **One delivery per alert.** A second copy of an alert in flight waits until the first
  settles, and is then skipped as already delivered; a copy in the same batch rides along.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = ["Claim", "Pick", "Window"]


class Claim(Protocol):
    """What the window needs of a queued job."""

    @property
    def alert_id(self) -> str: ...

    @property
    def subject(self) -> str | None: ...


J = TypeVar("J", bound=Claim)


@dataclass
class Pick(Generic[J]):
    """What to do next: ``batch`` to send (distinct alerts), ``riders`` (copies of an
    alert in ``batch``, settled with it) and ``done`` (already settled at this sink)."""

    batch: list[J] = field(default_factory=list)
    riders: list[J] = field(default_factory=list)
    done: list[J] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.batch or self.riders or self.done)


class Window(Generic[J]):
    """The deliveries in flight at one sink, and which queued jobs may join them."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one delivery")
        self.size = size
        self._open = 0  # deliveries (batches) in flight
        self._subjects: Counter[str] = Counter()
        self._ids: Counter[str] = Counter()

    @property
    def in_flight(self) -> int:
        """Deliveries started and not yet released."""
        return self._open

    @property
    def full(self) -> bool:
        return self._open >= self.size

    def pick(
        self,
        queue: deque[J],
        max_batch: int,
        *,
        current: Callable[[J], bool],
        settled: Callable[[J], bool],
    ) -> Pick[J]:
        """Take from ``queue`` what may go now, and claim its batch (if any) in flight.

        Jobs ``current`` says no to are dropped (their partition went elsewhere); jobs
        ``settled`` says yes to are ``done``; jobs that must wait for their key or alert
        stay queued, in order. At most ``max_batch`` alerts are sent together; nothing
        is taken while the window is full.
        """
        pick: Pick[J] = Pick()
        if self.full:
            return pick
        waiting: list[J] = []
        blocked: set[str] = set()  # keys with an alert still waiting: later ones wait too
        ids: set[str] = set()
        while queue:
            job = queue.popleft()
            if not current(job):
                continue
            if job.alert_id in ids:
                pick.riders.append(job)
                continue
            if settled(job):
                pick.done.append(job)
                continue
            subject = job.subject
            if job.alert_id in self._ids or (
                subject is not None and (subject in self._subjects or subject in blocked)
            ):
                if subject is not None:
                    blocked.add(subject)
                waiting.append(job)
                continue
            ids.add(job.alert_id)
            pick.batch.append(job)
            if len(pick.batch) >= max_batch:
                break
        queue.extendleft(reversed(waiting))
        if pick.batch:
            self._claim(pick.batch)
        return pick

    def _claim(self, batch: Sequence[J]) -> None:
        self._open += 1
        for job in batch:
            self._ids[job.alert_id] += 1
            if job.subject is not None:
                self._subjects[job.subject] += 1

    def release(self, batch: Sequence[J]) -> None:
        """A batch returned by :meth:`pick` is settled (or abandoned on stop)."""
        self._open -= 1
        for job in batch:
            self._ids[job.alert_id] -= 1
            if self._ids[job.alert_id] <= 0:
                del self._ids[job.alert_id]
            subject = job.subject
            if subject is not None:
                self._subjects[subject] -= 1
                if self._subjects[subject] <= 0:
                    del self._subjects[subject]
