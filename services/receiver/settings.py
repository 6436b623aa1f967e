"""The receiver's settings, read once at start from ``KITESTREAM_*`` variables.

Secrets are ``SecretStr`` so that the settings object can be logged without leaking
them. :func:`load_settings` turns a missing or invalid variable into one clear
sentence naming the variable, which is what ``kitestream receiver`` prints before it
refuses to start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.common.settings import KafkaSettings, problems, split_csv
from services.receiver.errors import SettingsError

__all__ = [
    "ReceiverSettings",
    "SecretList",
    "TokenPairs",
    "load_settings",
    "parse_pairs",
    "split_secrets",
]

MiB = 1024 * 1024


def parse_pairs(value: object) -> dict[str, str]:
    """``"suite-a=tok1, suite-b=tok2"`` as ``{"suite-a": "tok1", "suite-b": "tok2"}``."""
    if isinstance(value, dict):
        return {
            str(k).strip(): (v.get_secret_value() if isinstance(v, SecretStr) else str(v)).strip()
            for k, v in value.items()
        }
    pairs: dict[str, str] = {}
    for item in split_csv(value):
        name, sep, secret = item.partition("=")
        if not sep or not name.strip() or not secret.strip():
            raise ValueError("expected comma-separated name=token pairs")
        pairs[name.strip()] = secret.strip()
    return pairs


def split_secrets(value: object) -> list[str]:
    """Like :func:`split_csv`, keeping ``SecretStr`` items' values (not their ``****``)."""
    if isinstance(value, list | tuple):
        value = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
    return split_csv(value)


def _auto_workers(value: object) -> object:
    """``auto`` is one worker per core this process may run on."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    return value


# Comma-separated secrets in one variable ("tok1,tok2"): several allow rotation.
SecretList = Annotated[list[SecretStr], NoDecode, BeforeValidator(split_secrets)]
# Comma-separated ``name=token`` pairs in one variable (the suites' tokens are then
# matched by :class:`services.ingest.auth.SuiteTokens`).
TokenPairs = Annotated[dict[str, SecretStr], NoDecode, BeforeValidator(parse_pairs)]


class ReceiverSettings(KafkaSettings):
    """Everything ``kitestream receiver`` reads from the environment: ``KITESTREAM_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="KITESTREAM_")

    buildkite_tokens: SecretList = Field(
        description="Webhook tokens accepted from Buildkite; each is also the HMAC key.",
    )
    buildkite_require_signature: bool = Field(
        default=False, description="Refuse token mode: accept only signed webhooks."
    )
    signature_tolerance_s: float = Field(
        default=300.0, gt=0, description="Accepted signature age, either direction."
    )
    # Read here so that the other ingest endpoints of this app share one settings object.
    test_suites: TokenPairs = Field(default_factory=dict)
    pagerduty_secrets: SecretList = Field(default_factory=list)
    api_tokens: SecretList = Field(default_factory=list)

    spool_dir: Path = Field(default=Path(".kitestream/spool"))
    receiver_workers: Annotated[int, BeforeValidator(_auto_workers)] = Field(
        default=1,
        ge=1,
        le=256,
        description="Processes serving the port (or auto: one per core); above 1 each "
        "spools to spool_dir/<n>.",
    )
    spool_max_bytes: int = Field(default=512 * MiB, gt=0)
    spool_segment_bytes: int = Field(default=8 * MiB, gt=0)

    max_body_bytes: int = Field(default=10 * MiB, gt=0)
    max_json_depth: int = Field(default=32, gt=0, le=512)
    body_timeout_s: float = Field(default=10.0, gt=0, description="Slow-client cut-off.")

    produce_deadline_s: float = Field(default=2.0, gt=0, description="Kafka ack, else spool.")
    kafka_max_message_bytes: int = Field(default=1_000_000, gt=0)
    linger_ms: int = Field(default=0, ge=0, description="Producer linger; 0 batches naturally.")
    kafka_batch_bytes: int = Field(default=256 * 1024, gt=0, description="Producer batch size.")
    shutdown_drain_s: float = Field(default=5.0, ge=0)

    @field_validator("buildkite_tokens")
    @classmethod
    def _at_least_one(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        if not tokens:
            raise ValueError("at least one token is required")
        return tokens


def load_settings() -> ReceiverSettings:
    """Settings from the environment, or :class:`SettingsError` saying what to set."""
    try:
        return ReceiverSettings()
    except ValidationError as exc:
        raise SettingsError("; ".join(problems(ReceiverSettings, exc, _HINTS))) from None


_HINTS = {
    "buildkite_tokens": "KITESTREAM_BUILDKITE_TOKENS is not set: set it to the webhook "
    "token(s) configured in Buildkite "
    "(Settings → Notification Services → Webhook), comma-separated"
}
