"""Prometheus metrics of ``kitestream reconcile`` (its own registry, served on /metrics).

``kitestream_reconcile_missing_total{kind}`` counts the events (``kind`` build or job)
that Kafka did not have and reconcile published: webhooks that were lost. It should stay
flat; see docs/reconcile.md for the alert rule.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["ReconcileMetrics"]


class ReconcileMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.missing = Counter(
            "kitestream_reconcile_missing",
            "Finished events Kafka did not have, published from the REST API.",
            ["kind"],
            registry=r,
        )
        self.passes = Counter(
            "kitestream_reconcile_passes", "Reconcile passes, by outcome.", ["outcome"], registry=r
        )
        self.requests = Counter(
            "kitestream_reconcile_api_requests", "Requests made to the REST API.", registry=r
        )
        self.last_success = Gauge(
            "kitestream_reconcile_last_success_timestamp_seconds",
            "When the last pass succeeded (Unix time).",
            registry=r,
        )
        for kind in ("build", "job"):
            self.missing.labels(kind)
        for outcome in ("ok", "failed"):
            self.passes.labels(outcome)
