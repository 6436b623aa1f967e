"""The query API's settings, read once at start (the convention of
:mod:`services.common.settings`: its own knobs are ``KITESTREAM_API_*``).

``KITESTREAM_DATABASE_URL`` is the store's database (the same default as ``kitestream
store``), ``KITESTREAM_READ_TOKENS`` the bearer tokens readers present (required when
the API listens on anything but loopback, see :func:`check_exposure`), and
``KITESTREAM_CATALOG`` the service catalog that ``/api/v1/services`` answers from.

Quarantine changes are the one thing the API writes: ``KITESTREAM_WRITE_TOKENS`` are the
bearer tokens that may make them (none: writes are refused, also on loopback), and they
go to ``tests.quarantine`` on ``KAFKA_BOOTSTRAP_SERVERS`` (under
``KITESTREAM_TOPIC_PREFIX``). ``KITESTREAM_TEST_SUITES`` (the receiver's ``suite=token``
pairs) lets a suite's own token read that suite's quarantine list and test plans, as
runners do.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.common.settings import SettingsError, load_settings, shared, split_csv
from services.receiver.settings import parse_pairs
from services.store.database import DEFAULT_DATABASE_URL

__all__ = ["ApiSettings", "check_exposure", "is_loopback", "read_settings"]


def _secrets(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        value = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
    return split_csv(value)


class ApiSettings(BaseSettings):
    """Everything ``kitestream api`` reads from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="KITESTREAM_API_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=shared("KITESTREAM_DATABASE_URL", "database_url"),
        description="The store's database (the same as the store's).",
    )
    read_tokens: Annotated[list[SecretStr], NoDecode, BeforeValidator(_secrets)] = Field(
        default_factory=list,
        validation_alias=shared("KITESTREAM_READ_TOKENS", "read_tokens"),
        description="Bearer tokens accepted by /api/v1 (required off loopback).",
    )
    write_tokens: Annotated[list[SecretStr], NoDecode, BeforeValidator(_secrets)] = Field(
        default_factory=list,
        validation_alias=shared("KITESTREAM_WRITE_TOKENS", "write_tokens"),
        description="Bearer tokens that may change quarantine state (none: no writes).",
    )
    test_suites: Annotated[dict[str, SecretStr], NoDecode, BeforeValidator(parse_pairs)] = Field(
        default_factory=dict,
        validation_alias=shared("KITESTREAM_TEST_SUITES", "test_suites"),
        description="suite=token pairs: a suite's token reads its quarantine and test plans.",
    )
    bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=shared("KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"),
        description="Kafka, where quarantine changes are published.",
    )
    topic_prefix: str = Field(
        default="",
        validation_alias=shared("KITESTREAM_TOPIC_PREFIX", "topic_prefix"),
        description="Prefix for every topic name.",
    )
    catalog: Path | None = Field(
        default=None,
        validation_alias=shared("KITESTREAM_CATALOG", "catalog"),
        description="The service catalog (YAML).",
    )
    page_limit: int = Field(default=50, ge=1, description="Items per page by default.")
    max_page_limit: int = Field(default=500, ge=1, description="Largest `limit` accepted.")


def read_settings() -> ApiSettings:
    """Settings from the environment, or :class:`SettingsError` naming each variable."""
    return load_settings(ApiSettings)


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: only this machine can connect."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, settings: ApiSettings) -> None:
    """Refuse to serve history to the network without read tokens."""
    if not settings.read_tokens and not is_loopback(host):
        raise SettingsError(
            [
                f"KITESTREAM_READ_TOKENS is not set: the API binds {host}, which is not a "
                "loopback address, so readers must present a bearer token; set "
                "KITESTREAM_READ_TOKENS to one or more comma-separated tokens "
                "(e.g. `openssl rand -hex 32`), or bind 127.0.0.1"
            ]
        )
