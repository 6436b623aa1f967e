"""Opaque cursors for keyset pagination over a stable sort order.

A list is sorted by an :class:`Order`: a few key expressions, each ascending or
descending, whose last one is unique (a primary key), so that every row has exactly one
place in the order. A page is the first ``limit`` rows after the cursor; the cursor of
the next page holds the sort values of the last row handed out::

    sort (created_at desc, alert_id desc):
      page 1: (10:05, "c") (10:05, "b") (10:01, "z")   next = cursor(10:01, "z")
      page 2: rows where created_at < 10:01, or created_at = 10:01 and alert_id < "z"

Rows added while a client pages do not shift later pages (no offsets), and each row
comes exactly once. A cursor is bound to the list and filters it came from (``scope``):
replayed against other filters it is refused, not misread. To clients it is an opaque
URL-safe string.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from services.api.errors import BadRequest

AnyRow = sa.Row[*tuple[Any, ...]]  # a row of any shape

__all__ = ["AnyRow", "Key", "Order", "decode", "encode", "scope_of"]

Value = str | int | float | bool | datetime | date | None


@dataclass(frozen=True)
class Key:
    """One sort key: an expression that is never NULL, and its direction."""

    expr: ColumnElement[Any]
    descending: bool = False


class Order:
    """A stable sort order; its last key must be unique."""

    def __init__(self, *keys: Key) -> None:
        self.keys = keys

    def order_by(self) -> list[ColumnElement[Any]]:
        return [k.expr.desc() if k.descending else k.expr.asc() for k in self.keys]

    def columns(self) -> list[ColumnElement[Any]]:
        """The key expressions labelled ``_k0``, ``_k1``, … to select beside a row."""
        return [k.expr.label(f"_k{i}") for i, k in enumerate(self.keys)]

    def values_of(self, row: AnyRow) -> list[Value]:
        mapping = row._mapping
        return [mapping[f"_k{i}"] for i in range(len(self.keys))]

    def after(self, values: Sequence[Value]) -> ColumnElement[bool]:
        """Rows strictly after ``values`` in this order (written out, not as a row-value
        comparison, so that each side is bound with its column's type)."""
        if len(values) != len(self.keys):
            raise BadRequest("the cursor does not belong to this list")
        alternatives = []
        for i, key in enumerate(self.keys):
            equal = [self.keys[j].expr == values[j] for j in range(i)]
            beyond = key.expr < values[i] if key.descending else key.expr > values[i]
            alternatives.append(sa.and_(*equal, beyond))
        return sa.or_(*alternatives)


def scope_of(name: str, filters: dict[str, object]) -> str:
    """A short fingerprint of a list and its filters, stored in its cursors."""
    canonical = orjson.dumps([name, filters], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()[:12]


def _pack(value: Value) -> list[Any]:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    return ["v", value]


def _unpack(packed: object) -> Value:
    if not (isinstance(packed, list) and len(packed) == 2):
        raise ValueError("not a packed value")
    tag, raw = packed
    if tag == "t" and isinstance(raw, str):
        return datetime.fromisoformat(raw)
    if tag == "d" and isinstance(raw, str):
        return date.fromisoformat(raw)
    if tag == "v" and (raw is None or isinstance(raw, str | int | float | bool)):
        return raw
    raise ValueError(f"unknown tag {tag!r}")


def encode(scope: str, values: Sequence[Value]) -> str:
    raw = orjson.dumps({"s": scope, "k": [_pack(v) for v in values]})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(scope: str, cursor: str) -> list[Value]:
    """The sort values in ``cursor``; :class:`BadRequest` when it is not one of ours or
    was made for another list or other filters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("k"), list):
            raise ValueError("not a cursor")
        values = [_unpack(v) for v in data["k"]]
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest("cursor: not a cursor this API handed out") from None
    if data.get("s") != scope:
        raise BadRequest("cursor: it belongs to another list or other filters")
    return values
