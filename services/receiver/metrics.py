"""Prometheus metrics of one receiver app, in a registry of its own (no module globals).

``kitestream_receiver_requests_total{route,method,status}`` counts every answer, by
route template (``/webhooks/buildkite``, never a raw path: unknown paths count as
``unmatched``), so label values stay few whatever clients send. The ASGI middleware
here records it for every route, including the ones other endpoints add later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric the receiver exports; endpoints record through these attributes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
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
        self.spool_full = Counter(
            "kitestream_receiver_spool_full", "Requests refused with 503: spool full.", registry=r
        )
        self.producer_replacements = Counter(
            "kitestream_receiver_producer_replacements",
            "Kafka producers replaced because they were wedged or failed fatally.",
            registry=r,
        )
        self.spool_bytes = Gauge(
            "kitestream_receiver_spool_bytes", "Bytes spooled, not yet in Kafka.", registry=r
        )
        self.spool_records = Gauge(
            "kitestream_receiver_spool_records", "Messages spooled, not yet in Kafka.", registry=r
        )
        self.spool_age = Gauge(
            "kitestream_receiver_spool_oldest_age_seconds",
            "Age of the oldest message spooled and not yet in Kafka (0 when empty).",
            registry=r,
        )
        self.kafka_up = Gauge(
            "kitestream_receiver_kafka_up", "1 when Kafka answered last time we asked.", registry=r
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
        """Read the gauges from live state at scrape time."""
        self.spool_bytes.set_function(spool_bytes)
        self.spool_records.set_function(spool_records)
        self.spool_age.set_function(spool_age)
        self.kafka_up.set_function(kafka_up)


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
