"""Settings of ``kitestream reconcile`` and ``kitestream backfill``.

``BUILDKITE_API_TOKEN``, ``KITESTREAM_BUILDKITE_ORG`` and ``KITESTREAM_BUILDKITE_API_URL``
are shared names (the dispatcher's Buildkite sink may use the same token); the rest are
``KITESTREAM_RECONCILE_`` + the field name.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CsvList, KafkaSettings, shared

__all__ = ["DEFAULT_API_URL", "DEFAULT_METRICS_PORT", "HINTS", "ReconcileSettings"]

DEFAULT_API_URL = "https://api.buildkite.com"
DEFAULT_METRICS_PORT = 9104
# What to do about a missing or empty required variable (load_settings' hints).
HINTS = {
    "api_token": "BUILDKITE_API_TOKEN is not set: an API access token with the read_builds "
    "scope (see docs/reconcile.md)",
    "organization": "KITESTREAM_BUILDKITE_ORG is not set: the organization slug",
}


class ReconcileSettings(KafkaSettings):
    model_config = SettingsConfigDict(env_prefix="KITESTREAM_RECONCILE_")

    api_token: SecretStr = Field(
        validation_alias=shared("BUILDKITE_API_TOKEN", "api_token"),
        description="Buildkite API access token with the read_builds scope.",
    )
    organization: str = Field(
        min_length=1,
        validation_alias=shared("KITESTREAM_BUILDKITE_ORG", "organization"),
        description="Organization slug.",
    )
    api_url: str = Field(
        default=DEFAULT_API_URL,
        validation_alias=shared("KITESTREAM_BUILDKITE_API_URL", "api_url"),
        description="Base URL of the REST API (a proxy, or a local server in tests).",
    )
    pipelines: CsvList = Field(
        default=[],
        description="Pipeline slugs to reconcile; empty: the whole organization.",
    )
    interval_s: float = Field(default=300.0, gt=0)
    overlap_s: float = Field(
        default=900.0,
        ge=0,
        description="Each pass looks this far behind its checkpoint (clock skew, late API).",
    )
    grace_s: float = Field(
        default=120.0,
        ge=0,
        description="Events younger than this are left to their webhook (still in flight).",
    )
    max_build_hours: float = Field(
        default=24.0,
        gt=0,
        description="Builds created longer ago than this before the window are not listed.",
    )
    budget_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the organization's and the user's rate limit to use at most.",
    )
    page_size: int = Field(default=100, ge=1, le=100)
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_s: float = Field(default=1.0, ge=0)
    chunk_hours: float = Field(
        default=6.0,
        gt=0,
        description="Backfill lists builds created in windows this long, oldest first.",
    )
    send_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("api_token")
    @classmethod
    def _token_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("BUILDKITE_API_TOKEN is empty")
        return value
