"""Whether a decoded row fits its table's columns on every supported database. Pure.

The contract models take any integer and any text, but the columns do not: ``Integer``
is 32 bits on PostgreSQL (64 on SQLite), ``BigInteger`` 64 bits, and PostgreSQL's text
and JSONB refuse the NUL character. A row that did not fit would fail its whole batch
again on every retry, so the store never got past it. Here the same rule holds on both
databases: a number past its column's range makes the record :class:`Poison`, and NUL
characters in text become U+FFFD (a commit message with a stray NUL is still worth
keeping). Only a value that JSON-escapes a NUL (``\\u0000``) can carry one, so the
others are not parsed twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from services.store.records import INT32, Poison, Row

__all__ = ["Bounds", "check", "int_bounds", "without_nul"]

_INT64 = (-(2**63), 2**63 - 1)

Bounds = dict[str, tuple[tuple[str, int, int], ...]]  # statement -> (column, low, high)


def int_bounds(tables: dict[str, sa.Table]) -> Bounds:
    """Each statement's integer columns with the range every database takes."""
    bounds: Bounds = {}
    for statement, table in tables.items():
        columns = []
        for column in table.columns:
            if isinstance(column.type, sa.BigInteger):
                columns.append((column.name, *_INT64))
            elif isinstance(column.type, sa.Integer):  # SmallInteger does not occur
                columns.append((column.name, *INT32))
        bounds[statement] = tuple(columns)
    return bounds


def check(rows: Iterable[Row], bounds: Bounds) -> None:
    """Raise :class:`Poison` (``schema``) when a number is past its column's range."""
    for statement, values in rows:
        for name, low, high in bounds.get(statement, ()):
            value = values.get(name)
            if value is not None and not low <= value <= high:
                raise Poison("schema", f"{statement}.{name} = {value} is out of the column's range")


def without_nul(raw: bytes | None) -> bytes | None:
    """A JSON value with every NUL in its strings (keys too) as U+FFFD; ``raw`` itself
    when it has none, or when it is not JSON (its decoder says so)."""
    if raw is None or b"\\u0000" not in raw:  # JSON writes a NUL only as this escape
        return raw
    try:  # the standard library: numbers of any size survive the round trip
        value = json.loads(raw)
    except ValueError:
        return raw
    return json.dumps(_replace(value)).encode()


def _replace(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_replace(k): _replace(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v) for v in value]
    return value
