"""The base of every message kitestream writes: frozen, strict, JSON on the wire."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = ["Message", "UtcDateTime", "stable_id"]


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # a validation error, not a crash
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from exc


# A timestamp that is always timezone-aware UTC (naive input is read as UTC).
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


class Message(BaseModel):
    """A message value on a kitestream topic: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


def stable_id(*parts: object) -> str:
    """A deterministic id: SHA-256 over the parts' JSON, hex, first 32 characters.

    Used for ``event_id`` (so consumers can drop duplicates) and ``alert_id`` (so that
    one incident/deploy pair or one flaky transition is one alert, whoever computes it).
    """
    raw = orjson.dumps(parts, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:32]
