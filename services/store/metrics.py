"""Prometheus metrics of ``kitestream store`` (its own registry, served on :9105)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["StoreMetrics"]


class StoreMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records = Counter(
            "kitestream_store_records", "Records read, by topic.", ["topic"], registry=r
        )
        self.poison = Counter(
            "kitestream_store_poison_records",
            "Records skipped because they could not be read, by topic and kind.",
            ["topic", "kind"],
            registry=r,
        )
        self.rows = Counter(
            "kitestream_store_rows", "Rows upserted, by statement.", ["statement"], registry=r
        )
        self.batches = Counter(
            "kitestream_store_batches",
            "Transactions, by outcome (committed, offset_moved).",
            ["outcome"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "kitestream_store_batch_seconds", "Time to write one batch.", registry=r
        )
        self.pruned = Counter(
            "kitestream_store_pruned_rows",
            "Rows deleted by retention, by table.",
            ["table"],
            registry=r,
        )
        self.lag = Gauge(
            "kitestream_store_lag_records",
            "Committed records on a topic the store has not read yet (its partitions"
            " assigned here; last stable offset less position).",
            ["topic"],
            registry=r,
        )
