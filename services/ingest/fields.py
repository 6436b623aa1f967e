"""Field types for vendor payloads: blank means absent, timestamps in any usual form.

Templated senders (Argo CD notifications, GitHub Actions expressions, shell
``$VARS``) render a missing value as ``""`` or Go's ``<no value>``; both mean
"not given" here. Timestamps take ISO 8601 (``2026-08-01T10:00:05.000Z``),
Buildkite's older ``2026-08-01 10:00:05 UTC`` and Unix seconds or milliseconds.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from schemas.base import UtcDateTime

__all__ = ["OptionalText", "OptionalTime", "blank_to_none", "normalise_time"]

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


OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]
OptionalTime = Annotated[UtcDateTime | None, BeforeValidator(normalise_time)]
