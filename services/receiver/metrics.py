"""Prometheus metrics of one receiver app, in a registry of its own (no module globals).

``kitestream_receiver_requests_total{route,method,status}`` counts every answer, by
route template (``/webhooks/buildkite``, never a raw path: unknown paths count as
``unmatched``), so label values stay few whatever clients send. The ASGI middleware
here records it for every route, including the ones other endpoints add later.

With several workers (``--workers N``) the command sets ``PROMETHEUS_MULTIPROC_DIR``
and each worker writes its values there (prometheus_client's multiprocess mode):
``/metrics``, whichever worker answers it, is then the sum of every worker's counters
and histograms (a dead worker's included, so totals never go back), the spool gauges
summed over the live workers, the oldest spooled age their maximum and ``kafka_up``
their minimum. Gauges are read from live state at each scrape in one process, and
written every second (and at each scrape) by each worker when there are several.

The hot path records through :meth:`Metrics.child`. In one process its counts and
observations are kept in plain numbers (:class:`Tally`, :class:`Observations`) and added
to the prometheus_client metrics whenever the registry is read (a scrape), which is the
only time anyone sees them: prometheus_client's own ``inc``/``observe`` take a lock and
several calls each, a few percent of a webhook's CPU. With several workers the children
are prometheus_client's own and write through at once, so a worker killed mid-second
has already written everything it counted where the others' scrapes read it.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MULTIPROC_ENV",
    "Metrics",
    "MetricsMiddleware",
    "Observations",
    "Tally",
    "forget_dead_workers",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Tally:
    """A counter child's increments, kept until :meth:`settle` adds them to it."""

    __slots__ = ("child", "pending")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.pending = 0.0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:  # as prometheus_client refuses it, at once
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.pending += amount

    def settle(self) -> None:
        if self.pending:
            amount, self.pending = self.pending, 0.0
            self.child.inc(amount)


class Observations:
    """A histogram child's observations, kept as a sum and a count per bucket until
    :meth:`settle` adds them to it (the bucket of an amount is the first whose upper
    bound is at least the amount, as ``Histogram.observe`` finds it)."""

    __slots__ = ("bounds", "child", "counts", "sum")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds: list[float] = list(child._upper_bounds)  # the last is +Inf
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect_left(self.bounds, amount)] += 1

    def settle(self) -> None:
        counts, child = self.counts, self.child
        if not any(counts):
            return
        # prometheus_client's own values: a sum, and a (non-cumulative) count per bucket
        for i, count in enumerate(counts):
            if count:
                child._buckets[i].inc(count)
                counts[i] = 0
        amount, self.sum = self.sum, 0.0
        child._sum.inc(amount)


class _Settle:
    """Registered first: every read of the registry settles what is pending first."""

    def __init__(self, pending: list[Tally | Observations]) -> None:
        self._pending = pending

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        for kept in self._pending:
            kept.settle()
        return []


class Metrics:
    """Every metric the receiver exports; endpoints record through these attributes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # prometheus_client chose its value class at import, from the same variable
        self.shared_dir = os.environ.get(MULTIPROC_ENV) or None
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        self._pending: list[Tally | Observations] = []
        r = self.registry
        r.register(_Settle(self._pending))
        self.requests = Counter(
            "kitestream_receiver_requests",
            "HTTP answers.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "kitestream_receiver_request_seconds",
            "Time from request to answer.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            "kitestream_receiver_auth_failures",
            "Requests refused for their credentials, by reason.",
            ["route", "reason"],
            registry=r,
        )
        self.produce_seconds = Histogram(
            "kitestream_receiver_produce_seconds",
            "Time to a Kafka ack for one request's messages (outcome ok or error).",
            ["outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.messages = Counter(
            "kitestream_receiver_messages",
            "Messages accepted, by how: acked by Kafka or fsync'd to the spool.",
            ["path"],
            registry=r,
        )
        self.events = Counter(
            "kitestream_receiver_events",
            "Webhook events accepted, by source and family (other: not known yet).",
            ["source", "family"],
            registry=r,
        )
        self.drained = Counter(
            "kitestream_receiver_spool_drained", "Spooled messages Kafka acked later.", registry=r
        )
        self.quarantined = Counter(
            "kitestream_receiver_spool_rejected",
            "Spooled messages Kafka refused for good (kept in rejected.seg).",
            registry=r,
        )
        self.drainer_errors = Counter(
            "kitestream_receiver_spool_drainer_errors",
            "Unforeseen errors the spool drainer logged and went on after.",
            registry=r,
        )
        self.spool_full = Counter(
            "kitestream_receiver_spool_full", "Requests refused with 503: spool full.", registry=r
        )
        self.producer_replacements = Counter(
            "kitestream_receiver_producer_replacements",
            "Kafka producers replaced because they were wedged or failed fatally.",
            registry=r,
        )
        self.spool_bytes = Gauge(
            "kitestream_receiver_spool_bytes",
            "Bytes spooled, not yet in Kafka.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.spool_records = Gauge(
            "kitestream_receiver_spool_records",
            "Messages spooled, not yet in Kafka.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.spool_age = Gauge(
            "kitestream_receiver_spool_oldest_age_seconds",
            "Age of the oldest message spooled and not yet in Kafka (0 when empty).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.kafka_up = Gauge(
            "kitestream_receiver_kafka_up",
            "1 when Kafka answered last time we asked.",
            registry=r,
            multiprocess_mode="livemin",
        )

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """What to ``inc`` or ``observe`` for ``metric.labels(*labels)``, cached (label
        sets here are few and bounded): in one process a :class:`Tally` or
        :class:`Observations` of the child, with workers the child itself."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            child = metric.labels(*labels)
            if self.shared_dir is not None:
                found = child
            else:
                found = Tally(child) if isinstance(metric, Counter) else Observations(child)
                self._pending.append(found)
            self._children[key] = found
        return found

    def watch(
        self,
        *,
        spool_bytes: Callable[[], float],
        spool_records: Callable[[], float],
        spool_age: Callable[[], float],
        kafka_up: Callable[[], float],
    ) -> None:
        """Read the gauges from live state at scrape time (with several workers, at each
        :meth:`refresh`)."""
        self._gauges = [
            (self.spool_bytes, spool_bytes),
            (self.spool_records, spool_records),
            (self.spool_age, spool_age),
            (self.kafka_up, kafka_up),
        ]
        if self.shared_dir is None:
            for gauge, read in self._gauges:
                gauge.set_function(read)
        else:
            self.refresh()

    def refresh(self) -> None:
        """Write the gauges' live values where the other workers' scrapes read them."""
        if self.shared_dir is not None:
            for gauge, read in self._gauges:
                gauge.set(read())

    def exposition(self) -> bytes:
        """The text ``/metrics`` answers: this process's metrics, or every worker's."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        self.refresh()
        every = CollectorRegistry()
        MultiProcessCollector(every, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(every)

    def close(self) -> None:
        """This worker stops: its live gauges leave the sums (its counters stay)."""
        if self.shared_dir is not None:
            mark_process_dead(os.getpid(), self.shared_dir)  # type: ignore[no-untyped-call]


def forget_dead_workers(directory: str) -> None:
    """Take the live gauges of workers that died without :meth:`Metrics.close` (SIGKILL)
    out of the sums; their counters stay, so totals never go back."""
    for path in Path(directory).glob("gauge_live*_*.db"):  # gauge_livesum_<pid>.db
        pid = path.stem.rsplit("_", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsMiddleware:
    """Count each answer by route template and status, and time it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # when the app fails before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            label = route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else None
            label = str(label) if label else "unmatched"
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"
            metrics = self.metrics
            metrics.child(metrics.requests, label, method, str(status)).inc()
            metrics.child(metrics.request_seconds, label).observe(time.perf_counter() - started)
