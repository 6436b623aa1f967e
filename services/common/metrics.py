"""Prometheus metrics of the stream processors, and the HTTP endpoint that serves them.

Each service makes one :class:`ProcessorMetrics` (its own registry, no module globals)
and hands it to its :class:`~services.common.processor.StreamProcessor` s; the
``service`` label tells stages apart (the correlator runs two). ``serve_metrics``
exposes the registry on ``/metrics`` for Prometheus (``KITESTREAM_METRICS_PORT``, on
``KITESTREAM_METRICS_HOST``: loopback by default, as the receiver).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = ["DEFAULT_METRICS_PORTS", "ProcessorMetrics", "ServiceMetrics", "serve_metrics"]

log = logging.getLogger(__name__)

# Default ports, distinct so that `make run` can run every service on one machine.
DEFAULT_METRICS_PORTS = {"flakiness": 9101, "correlator": 9102, "dispatcher": 9103}


class ProcessorMetrics:
    """Throughput, dead letters, transactions, restores and ownership per processor."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records = Counter(
            "kitestream_processor_records", "Input records processed.", ["service"], registry=r
        )
        self.dead_letters = Counter(
            "kitestream_processor_dead_letters",
            "Records sent to the dead-letter topic.",
            ["service"],
            registry=r,
        )
        self.transactions = Counter(
            "kitestream_processor_transactions",
            "Kafka transactions, by outcome (committed or aborted).",
            ["service", "outcome"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "kitestream_processor_batch_seconds",
            "Time to process and commit one batch.",
            ["service"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.restored = Counter(
            "kitestream_processor_restored_records",
            "Changelog records replayed to rebuild state.",
            ["service"],
            registry=r,
        )
        self.partitions = Gauge(
            "kitestream_processor_partitions",
            "Input partitions this instance owns.",
            ["service"],
            registry=r,
        )
        self.lag = Gauge(
            "kitestream_processor_lag_records",
            "Committed input records this instance has not read yet, over the partitions"
            " it owns (as of each partition's last batch).",
            ["service"],
            registry=r,
        )

    def labels(self, service: str) -> ServiceMetrics:
        """The children for one service label, looked up once (the hot path uses these)."""
        return ServiceMetrics(
            records=self.records.labels(service),
            dead_letters=self.dead_letters.labels(service),
            committed=self.transactions.labels(service, "committed"),
            aborted=self.transactions.labels(service, "aborted"),
            batch_seconds=self.batch_seconds.labels(service),
            restored=self.restored.labels(service),
            partitions=self.partitions.labels(service),
            lag=self.lag.labels(service),
        )


@dataclass(frozen=True, slots=True)
class ServiceMetrics:
    """One processor's metrics (one ``service`` label), as :class:`ProcessorMetrics`
    counts them: records, dead letters, transactions by outcome, batch time, restored
    changelog records, owned partitions, lag."""

    records: Counter
    dead_letters: Counter
    committed: Counter
    aborted: Counter
    batch_seconds: Histogram
    restored: Counter
    partitions: Gauge
    lag: Gauge


def serve_metrics(
    registry: CollectorRegistry,
    port: int | None,
    service: str,
    host: str = "127.0.0.1",
) -> WSGIServer | None:
    """Serve ``registry`` on ``http://host:port/metrics`` from a daemon thread.

    ``port`` None means the service's default (:data:`DEFAULT_METRICS_PORTS`); 0 disables.
    ``host`` is loopback unless ``KITESTREAM_METRICS_HOST`` says otherwise (``0.0.0.0``
    in a container, where Prometheus scrapes from outside). The server, to shut down in
    tests; ``None`` when nothing is served.
    """
    port = DEFAULT_METRICS_PORTS[service] if port is None else port
    if port == 0:
        return None
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("metrics not served: %s:%d unavailable (%s)", host, port, exc)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
