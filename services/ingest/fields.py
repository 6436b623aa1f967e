"""Field types for vendor payloads: blank means absent, timestamps in any usual form.

Templated senders (Argo CD notifications, GitHub Actions expressions, shell
``$VARS``) render a missing value as ``""`` or Go's ``<no value>``; both mean
"not given" here. Timestamps take ISO 8601 (``2026-08-01T10:00:05.000Z``),
Buildkite's older ``2026-08-01 10:00:05 UTC`` and Unix seconds or milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

__all__ = [
    "MAX_SAFE_INTEGER",
    "OptionalCount",
    "OptionalText",
    "OptionalTime",
    "as_utc",
    "blank_to_none",
    "normalise_time",
]

# The largest integer every JSON reader keeps exactly (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_SAFE_INTEGER = 2**53 - 1

_BLANKS = frozenset({"", "<no value>", "null", "none", "undefined"})


def blank_to_none(value: object) -> object:
    """``None`` for blank and placeholder strings, stripped text otherwise."""
    if isinstance(value, str):
        text = value.strip()
        return None if text.lower() in _BLANKS else text
    return value


def normalise_time(value: object) -> object:
    """What pydantic's datetime parser takes, from the forms senders use."""
    value = blank_to_none(value)
    if isinstance(value, str) and value.endswith(" UTC"):
        # "2026-08-01 10:00:05 UTC" -> "2026-08-01T10:00:05+00:00"
        return value[: -len(" UTC")].strip().replace(" ", "T", 1) + "+00:00"
    return value


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive means UTC); a shift past year 1 or 9999 is a ValueError,
    so pydantic reports it as a validation error rather than letting OverflowError out."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once in UTC") from None


OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


OptionalTime = Annotated[
    datetime | None, BeforeValidator(normalise_time), AfterValidator(_utc_or_none)
]
# A counter such as an incident number: what every JSON reader keeps exactly.
OptionalCount = Annotated[int | None, Field(ge=0, le=MAX_SAFE_INTEGER)]
