"""Every number the flakiness processor uses, read from ``KITESTREAM_FLAKINESS_*``.

:class:`FlakinessSettings` holds the semantics (windows, thresholds, hysteresis) and is
all the pure core needs; :class:`ServiceSettings` adds where Kafka is and who this
instance is.
"""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import CsvList, KafkaSettings, shared

__all__ = ["FlakinessSettings", "ServiceSettings"]

DAY_S = 86_400.0


class FlakinessSettings(BaseSettings):
    """What counts as flaky. Environment: ``KITESTREAM_FLAKINESS_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="KITESTREAM_FLAKINESS_", extra="ignore", frozen=True
    )

    window_size: int = Field(default=50, ge=2, le=255, description="Last N executions kept.")
    window_days: float = Field(default=14.0, gt=0, description="…and none older than T days.")
    transition_threshold: float = Field(
        default=0.2, ge=0, le=1, description="Flip rate on the default branch that is evidence."
    )
    transition_min_runs: int = Field(
        default=10, ge=2, description="Default-branch executions needed before the rate counts."
    )
    clear_after_days: float = Field(
        default=7.0, gt=0, description="A flag clears after this long without new evidence…"
    )
    clear_after_runs: int = Field(
        default=100, ge=1, description="…or after this many executions without new evidence."
    )
    outage_fraction: float = Field(
        default=0.8, gt=0, le=1, description="A run where this share failed is an outage."
    )
    outage_min_tests: int = Field(
        default=10, ge=1, description="Runs smaller than this are never called outages."
    )
    default_branches: CsvList = Field(
        default=["main", "master"],
        description="Default branches when the event does not name the pipeline's own.",
    )
    retry_types: CsvList = Field(
        default=["automatic", "manual"],
        description="Job retry types whose pass after a failure is evidence.",
    )
    evidence_kept: int = Field(default=10, ge=1, description="Evidence items kept per test.")
    failed_tests_listed: int = Field(
        default=100, ge=1, description="Failed tests named in one tests.runs record."
    )

    @property
    def window_s(self) -> float:
        return self.window_days * DAY_S

    @property
    def clear_after_s(self) -> float:
        return self.clear_after_days * DAY_S


class ServiceSettings(KafkaSettings):
    """Where Kafka is (``KAFKA_BOOTSTRAP_SERVERS``, ``KITESTREAM_TOPIC_PREFIX``) and who we
    are. Environment: ``KITESTREAM_FLAKINESS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="KITESTREAM_FLAKINESS_")

    catalog: Path | None = Field(
        default=None,
        validation_alias=shared("KITESTREAM_CATALOG"),
        description="The service catalog (YAML): the service of flaky alerts.",
    )

    instance_id: str = Field(
        default_factory=socket.gethostname,
        validation_alias=shared("KITESTREAM_FLAKINESS_INSTANCE_ID", "KITESTREAM_INSTANCE_ID"),
        description="Stable per instance: a restart with the same id fences the old one.",
    )
    group_id: str = Field(
        default="kitestream-flakiness",
        description="Consumer group (the topic prefix is put in front of it).",
    )
    max_batch: int = Field(
        default=8000,
        ge=1,
        description="Records per transaction at most (each transaction costs a few "
        "broker round trips, so bigger batches go faster; see docs/benchmarks.md).",
    )
