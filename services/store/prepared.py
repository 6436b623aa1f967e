"""Upserts compiled once and run on the driver's ``executemany``.

``conn.execute(statement, rows)`` looks the compiled statement up in SQLAlchemy's cache
(a cache key is built from the statement each time) and then, row by row, gathers the
parameters and runs each column type's bind processor through generic code: about two
thirds of the instructions of a bare insert of test executions into SQLite. A batch
writes thousands of rows of a handful of statements, so the writer compiles each
(dialect, statement, columns) once with SQLAlchemy and keeps the SQL text, the row keys
in the order the SQL wants them and the bind processors of the columns that have one
(times, JSON; times on SQLite by :func:`sqlite_utc_text`, the same text in one call).
It hands the driver the prepared parameters through ``Connection.exec_driver_sql`` (the
same connection and transaction, SQLAlchemy's events and error wrapping). The database
sees the statement and the values that ``conn.execute`` would have sent; the tests in
``tests/integration/store`` hold both databases to the same rows.

A statement whose SQL has parameters other than its columns (a literal in a ``CASE``,
say) is not prepared: :func:`execute_many` runs it through ``conn.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from services.store.tables import UtcTimestamp

__all__ = ["Prepared", "execute_many", "prepare", "sqlite_utc_text"]

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class Prepared:
    """An upsert's SQL and how to turn a row (a dict) into its parameters."""

    sql: str
    names: tuple[str, ...]  # row keys, in the SQL's parameter order when positional
    positional: bool
    processors: tuple[tuple[int, str, Processor], ...]  # (position, key, processor)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """The rows as the driver takes them: tuples (positional) or dicts (named)."""
        if self.positional:
            get = itemgetter(*self.names)
            if len(self.names) == 1:
                return [(get(row),) for row in rows]
            if not self.processors:
                return [get(row) for row in rows]
            out: list[Any] = []
            append = out.append
            processors = self.processors
            for row in rows:
                values = list(get(row))
                for position, _key, process in processors:
                    values[position] = process(values[position])
                append(tuple(values))
            return out
        named: list[Any] = []
        for row in rows:
            params = {name: row[name] for name in self.names}
            for _position, key, process in self.processors:
                params[key] = process(params[key])
            named.append(params)
        return named


def prepare(conn: Connection, statement: Insert, columns: Sequence[str]) -> Prepared | None:
    """``statement`` compiled for ``conn``'s dialect with ``columns`` as its values;
    ``None`` when its SQL has parameters that are not columns."""
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    assert isinstance(compiled, SQLCompiler)
    if (
        set(compiled.bind_names.values()) != set(columns)
        or compiled.escaped_bind_names
        or compiled.literal_execute_params
        or compiled.post_compile_params
    ):
        return None
    positional = bool(compiled.positional)
    if positional:
        if compiled.positiontup is None:
            return None
        names = tuple(compiled.positiontup)
    else:
        names = tuple(columns)
    table = statement.table
    processors = []
    for position, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, UtcTimestamp) and dialect.name == "sqlite":
            process: Processor | None = sqlite_utc_text  # SQLAlchemy's, in one call
        else:
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, name, process))
    return Prepared(compiled.string, names, positional, tuple(processors))


def sqlite_utc_text(value: datetime | None) -> str | None:
    """A time as :class:`UtcTimestamp` and SQLite's ``DATETIME`` store it: naive UTC
    text with microseconds (``tests/unit/store/test_prepared.py`` holds it to their
    bind processors)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def execute_many(
    conn: Connection, prepared: Prepared | None, statement: Insert, rows: list[dict[str, Any]]
) -> None:
    """Write ``rows`` with ``prepared`` when there is one, else with ``conn.execute``."""
    if prepared is None:
        conn.execute(statement, rows)
        return
    conn.exec_driver_sql(prepared.sql, prepared.parameters(rows))
