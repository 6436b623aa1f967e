"""``kitestream store`` settings: the database, what to keep and for how long.

Environment: ``KITESTREAM_DATABASE_URL`` (contract), ``KITESTREAM_STORE_<FIELD>`` for the
rest, plus the Kafka settings every service reads.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from services.common.settings import KafkaSettings, service_alias
from services.store.database import DEFAULT_DATABASE_URL

__all__ = ["DEFAULT_METRICS_PORT", "StoreSettings"]

DEFAULT_METRICS_PORT = 9104

_env = service_alias("store")


class StoreSettings(KafkaSettings):
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("KITESTREAM_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL: sqlite:///path (WAL mode) or postgresql+psycopg://…",
    )
    group_id: str = Field(
        default="kitestream-store",
        validation_alias=_env("group_id"),
        description="Consumer group; offsets live in the database under this name.",
    )
    all_executions: bool = Field(
        default=False,
        validation_alias=_env("all_executions"),
        description="Keep every test execution, not only failed ones and passes on a retry.",
    )
    results_days: float = Field(
        default=30.0,
        ge=0,
        validation_alias=_env("results_days"),
        description="Days to keep test executions and flaky evidence (0: forever).",
    )
    rollup_days: float = Field(
        default=400.0,
        ge=0,
        validation_alias=_env("rollup_days"),
        description="Days to keep per-test daily rollups and flaky episodes (0: forever).",
    )
    events_days: float = Field(
        default=400.0,
        ge=0,
        validation_alias=_env("events_days"),
        description=(
            "Days to keep builds, jobs, test runs, deploys, incidents, alerts and"
            " deliveries (0: forever)."
        ),
    )
    prune_interval_s: float = Field(
        default=300.0,
        gt=0,
        validation_alias=_env("prune_interval_s"),
        description="Seconds between pruning passes.",
    )
    prune_batch: int = Field(
        default=1000,
        ge=1,
        validation_alias=_env("prune_batch"),
        description="Rows deleted per statement (and per transaction) while pruning.",
    )
    max_batch: int = Field(
        default=5000,
        ge=1,
        validation_alias=_env("max_batch"),
        description="Records read per poll and written in one transaction, at most.",
    )
    catalog: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("KITESTREAM_CATALOG", "catalog"),
        description="Service catalog: gives each test the service owning its suite.",
    )
