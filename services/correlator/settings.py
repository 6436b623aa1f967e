"""The correlator's settings, read once at start from the environment.

``KITESTREAM_CATALOG`` is a contract name; every window and knob below is
``KITESTREAM_CORRELATOR_<NAME>`` (for example ``KITESTREAM_CORRELATOR_FAILURE_WINDOW_MINUTES``).
"""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CsvList, KafkaSettings, shared, variable
from services.correlator.windows import Windows

__all__ = ["CorrelatorSettings"]


class CorrelatorSettings(KafkaSettings):
    """Where the catalog is, how wide the windows are, and how the processor is named."""

    model_config = SettingsConfigDict(env_prefix="KITESTREAM_CORRELATOR_")

    catalog: Path | None = Field(
        default=None,
        validation_alias=shared("KITESTREAM_CATALOG"),
        description="The service catalog (YAML).",
    )
    failure_window_minutes: float = Field(
        default=60,
        gt=0,
        description="A deploy lines up with a failure this close to it, before or after.",
    )
    incident_window_minutes: float = Field(
        default=120,
        gt=0,
        description="An incident lines up with a deploy when it opens this soon after it.",
    )
    retention_hours: float = Field(
        default=24,
        gt=0,
        description="How long failures, deploys and incidents are kept (by event time); "
        "anything older than this behind the newest event of its service is dropped.",
    )
    default_branches: CsvList = Field(
        default=["main", "master"],
        description="Default branches assumed for pipelines whose events and catalog "
        "entry name none.",
    )
    group_id: str = Field(default="kitestream-correlator")
    instance_id: str = Field(
        default_factory=socket.gethostname,
        validation_alias=shared("KITESTREAM_CORRELATOR_INSTANCE_ID", "KITESTREAM_INSTANCE_ID"),
        description="Stable per instance: a restart with the same id fences the old one.",
    )
    max_batch: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _windows_fit(self) -> CorrelatorSettings:
        try:
            self.windows()
        except ValueError as exc:  # the retention cannot hold both windows
            raise ValueError(f"{variable(type(self), 'retention_hours')}: {exc}") from None
        return self

    def windows(self) -> Windows:
        return Windows(
            failure=timedelta(minutes=self.failure_window_minutes),
            incident=timedelta(minutes=self.incident_window_minutes),
            retention=timedelta(hours=self.retention_hours),
        )
