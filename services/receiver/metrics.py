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
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MULTIPROC_ENV", "Metrics", "MetricsMiddleware", "forget_dead_workers"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric the receiver exports; endpoints record through these attributes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # prometheus_client chose its value class at import, from the same variable
        self.shared_dir = os.environ.get(MULTIPROC_ENV) or None
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        r = self.registry
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
        """``metric.labels(*labels)``, cached: ``labels()`` validates and locks each call,
        which shows on the hot path; label sets here are few and bounded."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
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
