"""The correlator's settings, read once at start from the environment.

``KITESTREAM_CATALOG`` is a contract name; every window and knob below is
``KITESTREAM_CORRELATOR_<NAME>`` (for example ``KITESTREAM_CORRELATOR_FAILURE_WINDOW_MINUTES``).
"""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator

from services.common.settings import CsvList, KafkaSettings, service_alias
from services.correlator.windows import Windows

__all__ = ["CorrelatorSettings"]


_env = service_alias("correlator")


class CorrelatorSettings(KafkaSettings):
    """Where the catalog is, how wide the windows are, and how the processor is named."""

    catalog: Path | None = Field(
        default=None, description="The service catalog (YAML), KITESTREAM_CATALOG."
    )
    failure_window_minutes: float = Field(
        default=60,
        gt=0,
        validation_alias=_env("failure_window_minutes"),
        description="A deploy lines up with a failure this close to it, before or after.",
    )
    incident_window_minutes: float = Field(
        default=120,
        gt=0,
        validation_alias=_env("incident_window_minutes"),
        description="An incident lines up with a deploy when it opens this soon after it.",
    )
    retention_hours: float = Field(
        default=24,
        gt=0,
        validation_alias=_env("retention_hours"),
        description="How long failures, deploys and incidents are kept (by event time); "
        "anything older than this behind the newest event of its service is dropped.",
    )
    default_branches: CsvList = Field(
        default=["main", "master"],
        validation_alias=_env("default_branches"),
        description="Default branches assumed for pipelines whose events and catalog "
        "entry name none.",
    )
    group_id: str = Field(default="kitestream-correlator", validation_alias=_env("group_id"))
    instance_id: str = Field(
        default_factory=socket.gethostname,
        validation_alias=AliasChoices(
            "KITESTREAM_CORRELATOR_INSTANCE_ID", "KITESTREAM_INSTANCE_ID", "instance_id"
        ),
        description="Stable per instance: a restart with the same id fences the old one.",
    )
    max_batch: int = Field(default=500, ge=1, validation_alias=_env("max_batch"))

    @model_validator(mode="after")
    def _windows_fit(self) -> CorrelatorSettings:
        self.windows()  # raises ValueError when the retention cannot hold both windows
        return self

    def windows(self) -> Windows:
        return Windows(
            failure=timedelta(minutes=self.failure_window_minutes),
            incident=timedelta(minutes=self.incident_window_minutes),
            retention=timedelta(hours=self.retention_hours),
        )
