"""Query parameters: declared once per route (for checking and for OpenAPI), read typed.

:class:`Param` declares a parameter; :class:`Query` reads a request's parameters
against those declarations, refusing unknown names and bad values with
:class:`~services.api.errors.InvalidQuery` (422). Times accept RFC 3339
(``2026-08-01T10:00:00Z``, an offset, or none for UTC) or a bare date (midnight UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from services.api.errors import InvalidQuery

__all__ = ["CURSOR", "LIMIT", "Param", "Query", "parse_time"]

ParamType = Literal["string", "time", "date", "integer"]


@dataclass(frozen=True)
class Param:
    """A query parameter a route takes: name, type, description, allowed values."""

    name: str
    description: str
    type: ParamType = "string"
    choices: tuple[str, ...] = ()

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.type == "integer" else "string"}
        if self.type == "time":
            schema["format"] = "date-time"
        elif self.type == "date":
            schema["format"] = "date"
        if self.choices:
            schema["enum"] = list(self.choices)
        return {"name": self.name, "in": "query", "description": self.description, "schema": schema}


CURSOR = Param("cursor", "The `next` of the previous page; omit for the first page.")
LIMIT = Param("limit", "Items per page (default 50, at most 500).", "integer")


def parse_time(name: str, raw: str) -> datetime:
    """RFC 3339 or a date, as an aware UTC datetime; :class:`InvalidQuery` otherwise."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidQuery(
            f"{name}: expected an RFC 3339 time (2026-08-01T10:00:00Z) or a date (2026-08-01)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class Query:
    """One request's query parameters, checked against the route's :class:`Param` list.

    The filters read through :meth:`text`, :meth:`choice` and :meth:`time` are
    remembered (:attr:`filters`): a cursor is bound to them.
    """

    def __init__(
        self,
        params: Mapping[str, str] | Iterable[tuple[str, str]],
        declared: Sequence[Param] = (),
        *,
        default_limit: int = 50,
        max_limit: int = 500,
        strict: bool = True,
    ) -> None:
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        self._declared = {p.name: p for p in declared}
        self._values: dict[str, str] = {}
        for name, value in items:
            if strict and name not in self._declared:
                known = ", ".join(sorted(self._declared)) or "none"
                raise InvalidQuery(f"{name}: unknown parameter (this path takes: {known})")
            if name in self._values:
                raise InvalidQuery(f"{name}: given more than once")
            self._values[name] = value
        self._default_limit = default_limit
        self._max_limit = max_limit
        self.filters: dict[str, object] = {}

    def text(self, name: str) -> str | None:
        """A free-text filter; empty (``?q=``) is the same as not given."""
        value = self._values.get(name)
        if value is not None and value != "":
            self.filters[name] = value
            return value
        return None

    def _given(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is not None:
            self.filters[name] = value
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str | None:
        value = self._given(name)
        allowed = tuple(choices)
        if value is not None and value not in allowed:
            raise InvalidQuery(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def time(self, name: str) -> datetime | None:
        raw = self._given(name)
        return None if raw is None else parse_time(name, raw)

    def day(self, name: str) -> date | None:
        moment = self.time(name)
        return None if moment is None else moment.date()

    def limit(self) -> int:
        raw = self._values.get("limit")
        if raw is None or raw == "":
            return self._default_limit
        try:
            value = int(raw)
        except ValueError:
            raise InvalidQuery(f"limit: expected a whole number, got {raw!r}") from None
        if not 1 <= value <= self._max_limit:
            raise InvalidQuery(f"limit: expected 1 to {self._max_limit}, got {value}")
        return value

    def cursor(self) -> str | None:
        return self._values.get("cursor") or None
