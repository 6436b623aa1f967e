"""Settings every service shares, read once at start from the environment.

Each service's own ``settings.py`` subclasses :class:`KafkaSettings`. Secrets are
``SecretStr`` so that a settings object can be logged or printed without leaking them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["CsvList", "KafkaSettings", "service_alias", "split_csv"]


def split_csv(value: object) -> list[str]:
    """Split ``"a, b,,c"`` into ``["a", "b", "c"]``; lists pass through."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value if str(part).strip()]
    raise TypeError(f"expected a comma-separated string, got {type(value).__name__}")


# A list read from one comma-separated environment variable ("a,b,c"), not from JSON.
CsvList = Annotated[list[str], NoDecode, BeforeValidator(split_csv)]


def service_alias(service: str) -> Callable[[str], AliasChoices]:
    """The aliases of one service's own knobs: with ``_env = service_alias("dispatcher")``,
    ``_env("max_attempts")`` reads ``KITESTREAM_DISPATCHER_MAX_ATTEMPTS`` from the
    environment and ``max_attempts`` in code."""
    prefix = f"KITESTREAM_{service.upper()}_"

    def alias(name: str) -> AliasChoices:
        return AliasChoices(f"{prefix}{name.upper()}", name)

    return alias


class KafkaSettings(BaseSettings):
    """Where Kafka is and how topics are named (``KAFKA_BOOTSTRAP_SERVERS`` always wins)."""

    model_config = SettingsConfigDict(
        env_prefix="KITESTREAM_", extra="ignore", frozen=True, populate_by_name=True
    )

    bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"),
        description="Comma-separated Kafka brokers.",
    )
    topic_prefix: str = Field(default="", description="Prefix for every topic name.")
    log_format: str = Field(
        default="auto", description="auto (text on a terminal, JSON otherwise), json or text."
    )
    log_level: str = Field(default="INFO")
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        description="Port of the service's Prometheus /metrics (0 disables; each has a default).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address /metrics listens on; 0.0.0.0 in a container (compose sets it).",
    )
