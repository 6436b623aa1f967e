"""One page of a list: the rows after the cursor, in order, and the cursor of the next.

Every list answer has the same shape, ``{"items": [...], "next": cursor-or-null}``;
``next`` is null on the last page. :func:`page` runs a ``select`` with an
:class:`~services.api.cursor.Order` and ``limit + 1`` rows to know whether more follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from services.api import cursor
from services.api.cursor import AnyRow, Order
from services.api.params import Query

__all__ = ["Json", "page", "page_of_values", "plain"]

Json = dict[str, Any]


def plain(row: AnyRow) -> Json:
    """A row as a JSON object, without the sort-key columns :func:`page` adds."""
    # str(): column names are sqlalchemy quoted_name, a str subclass orjson refuses as a key
    return {str(k): v for k, v in row._mapping.items() if not k.startswith("_k")}


def page(
    conn: sa.Connection,
    select: sa.Select[Any],
    order: Order,
    query: Query,
    name: str,
    *,
    render: Callable[[AnyRow], Json] = plain,
) -> Json:
    """The page ``query`` asks for (its ``cursor`` and ``limit``) of ``select``.

    Read the filters from ``query`` before calling this: the cursor is bound to them.
    """
    scope = cursor.scope_of(name, query.filters)
    limit = query.limit()
    stmt = select.add_columns(*order.columns())
    given = query.cursor()
    if given is not None:
        stmt = stmt.where(order.after(cursor.decode(scope, given)))
    rows = conn.execute(stmt.order_by(*order.order_by()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    after = cursor.encode(scope, order.values_of(rows[-1])) if more else None
    return {"items": [render(row) for row in rows], "next": after}


def page_of_values(items: Sequence[Json], key: str, query: Query, name: str) -> Json:
    """A page of an in-memory list already sorted by the unique string ``key``."""
    scope = cursor.scope_of(name, query.filters)
    limit = query.limit()
    given = query.cursor()
    if given is not None:
        values = cursor.decode(scope, given)
        start = str(values[0]) if values else ""
        items = [item for item in items if str(item[key]) > start]
    chosen = list(items[: limit + 1])
    more = len(chosen) > limit
    chosen = chosen[:limit]
    return {
        "items": chosen,
        "next": cursor.encode(scope, [chosen[-1][key]]) if more else None,
    }
