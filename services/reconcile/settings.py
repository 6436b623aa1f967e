"""Settings of ``kitestream reconcile`` and ``kitestream backfill``.

``BUILDKITE_API_TOKEN`` and ``KITESTREAM_BUILDKITE_ORG`` are contract names; the rest are
``KITESTREAM_RECONCILE_*`` knobs.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator

from services.common.settings import CsvList, KafkaSettings, service_alias

__all__ = ["DEFAULT_API_URL", "DEFAULT_METRICS_PORT", "ReconcileSettings"]

DEFAULT_API_URL = "https://api.buildkite.com"
DEFAULT_METRICS_PORT = 9104
_env = service_alias("reconcile")


class ReconcileSettings(KafkaSettings):
    api_token: SecretStr = Field(
        validation_alias=AliasChoices("BUILDKITE_API_TOKEN", "api_token"),
        description="Buildkite API access token with the read_builds scope.",
    )
    organization: str = Field(
        min_length=1,
        validation_alias=AliasChoices("KITESTREAM_BUILDKITE_ORG", "organization"),
        description="Organization slug.",
    )
    api_url: str = Field(
        default=DEFAULT_API_URL,
        validation_alias=AliasChoices("KITESTREAM_BUILDKITE_API_URL", "api_url"),
        description="Base URL of the REST API (a proxy, or a local server in tests).",
    )
    pipelines: CsvList = Field(
        default=[],
        validation_alias=_env("pipelines"),
        description="Pipeline slugs to reconcile; empty: the whole organization.",
    )
    interval_s: float = Field(default=300.0, gt=0, validation_alias=_env("interval_s"))
    overlap_s: float = Field(
        default=900.0,
        ge=0,
        validation_alias=_env("overlap_s"),
        description="Each pass looks this far behind its checkpoint (clock skew, late API).",
    )
    grace_s: float = Field(
        default=120.0,
        ge=0,
        validation_alias=_env("grace_s"),
        description="Events younger than this are left to their webhook (still in flight).",
    )
    max_build_hours: float = Field(
        default=24.0,
        gt=0,
        validation_alias=_env("max_build_hours"),
        description="Builds created longer ago than this before the window are not listed.",
    )
    budget_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        validation_alias=_env("budget_share"),
        description="Share of the organization's and the user's rate limit to use at most.",
    )
    page_size: int = Field(default=100, ge=1, le=100, validation_alias=_env("page_size"))
    timeout_s: float = Field(default=30.0, gt=0, validation_alias=_env("timeout_s"))
    max_attempts: int = Field(default=5, ge=1, validation_alias=_env("max_attempts"))
    backoff_s: float = Field(default=1.0, ge=0, validation_alias=_env("backoff_s"))
    chunk_hours: float = Field(
        default=6.0,
        gt=0,
        validation_alias=_env("chunk_hours"),
        description="Backfill lists builds created in windows this long, oldest first.",
    )
    send_timeout_s: float = Field(default=30.0, gt=0, validation_alias=_env("send_timeout_s"))

    @field_validator("api_token")
    @classmethod
    def _token_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("BUILDKITE_API_TOKEN is empty")
        return value
