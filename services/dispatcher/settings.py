"""The dispatcher's settings, read once at start from the environment.

``KITESTREAM_ROUTES`` (required) and ``KITESTREAM_CATALOG`` are contract names; the
tuning knobs below are ``KITESTREAM_DISPATCHER_*``. Secrets are not settings: the routes
file names the environment variables or files that hold them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import KafkaSettings, shared

__all__ = ["DispatcherSettings"]


class DispatcherSettings(KafkaSettings):
    """Where the routes are, how hard to retry, and how long to wait for a sink."""

    model_config = SettingsConfigDict(env_prefix="KITESTREAM_DISPATCHER_")

    routes: Path = Field(
        validation_alias=shared("KITESTREAM_ROUTES"),
        description="The alert routing file (YAML).",
    )
    catalog: Path | None = Field(
        default=None,
        validation_alias=shared("KITESTREAM_CATALOG"),
        description="The service catalog (YAML), for matching on team.",
    )
    group_id: str | None = Field(
        default=None,
        validation_alias=shared("KITESTREAM_DISPATCHER_GROUP"),
        description="Consumer group on alerts; default <topic prefix>kitestream-dispatcher.",
    )
    dev_mode: bool = Field(
        default=False,
        description="Allow plain http to loopback addresses for every sink (development).",
    )
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=120.0, gt=0)
    give_up_after_s: float = Field(
        default=900.0,
        gt=0,
        description="Retry budget per delivery, counted from when the alert was read.",
    )
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    slack_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="At most one Slack message per webhook per interval; bursts coalesce.",
    )
    max_in_flight: int = Field(
        default=1000,
        ge=1,
        description="Alerts read but not yet settled before consumption pauses.",
    )
    sink_concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Deliveries in flight at once per sink (one per key at a time; Slack: 1); "
        "1 sends one alert after the other.",
    )
    commit_interval_s: float = Field(default=1.0, gt=0)
    delivered_retention_s: float | None = Field(
        default=None,
        gt=0,
        description="How long a delivery is remembered, to skip its alert if read again; "
        "default: as long as the alerts topic can keep it (retention.ms + segment.ms).",
    )
    shutdown_grace_s: float = Field(default=15.0, ge=0)

    @property
    def consumer_group(self) -> str:
        """The group to consume ``alerts`` in: one per topic prefix unless set."""
        return self.group_id or f"{self.topic_prefix}kitestream-dispatcher"
