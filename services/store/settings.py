"""``kitestream store`` settings: the database, what to keep and for how long.

Environment: ``KITESTREAM_DATABASE_URL`` (contract) and ``KITESTREAM_CATALOG`` are shared
names; the rest are ``KITESTREAM_STORE_`` + the field name, plus the Kafka settings every
service reads.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import KafkaSettings, shared
from services.store.database import DEFAULT_DATABASE_URL

__all__ = ["DEFAULT_METRICS_PORT", "StoreSettings"]

DEFAULT_METRICS_PORT = 9105


class StoreSettings(KafkaSettings):
    model_config = SettingsConfigDict(env_prefix="KITESTREAM_STORE_")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=shared("KITESTREAM_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL: sqlite:///path (WAL mode) or postgresql+psycopg://…",
    )
    group_id: str = Field(
        default="kitestream-store",
        description="Consumer group; offsets live in the database under this name.",
    )
    all_executions: bool = Field(
        default=False,
        description="Keep every test execution, not only failed ones and passes on a retry.",
    )
    results_days: float = Field(
        default=30.0,
        ge=0,
        description="Days to keep test executions and flaky evidence (0: forever).",
    )
    rollup_days: float = Field(
        default=400.0,
        ge=0,
        description="Days to keep per-test daily rollups and flaky episodes (0: forever).",
    )
    events_days: float = Field(
        default=400.0,
        ge=0,
        description=(
            "Days to keep builds, jobs, test runs, deploys, incidents, alerts,"
            " deliveries and the history of quarantine changes (0: forever)."
        ),
    )
    prune_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between pruning passes.",
    )
    prune_batch: int = Field(
        default=1000,
        ge=1,
        description="Rows deleted per statement (and per transaction) while pruning.",
    )
    max_batch: int = Field(
        default=5000,
        ge=1,
        description="Records read per poll and written in one transaction, at most.",
    )
    auto_quarantine: float | None = Field(
        default=None,
        gt=0,
        validation_alias=shared("KITESTREAM_AUTO_QUARANTINE", "auto_quarantine"),
        description=(
            "Hours: mute tests flagged flaky for longer, unmute them on recovery"
            " (unset: off). See docs/quarantine.md."
        ),
    )
    auto_quarantine_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between auto-quarantine passes."
    )
    catalog: Path | None = Field(
        default=None,
        validation_alias=shared("KITESTREAM_CATALOG", "catalog"),
        description="Service catalog: gives each test the service owning its suite.",
    )
