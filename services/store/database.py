"""Engines for the store's database: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

__all__ = ["DEFAULT_DATABASE_URL", "StoreDatabaseError", "make_engine", "normalise_url"]

DEFAULT_DATABASE_URL = "sqlite:///.kitestream/store.db"


class StoreDatabaseError(Exception):
    """The database URL cannot be used (unknown dialect, unreadable URL)."""


def normalise_url(url: str | URL) -> URL:
    """The URL as SQLAlchemy reads it; ``postgresql://`` means psycopg 3."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreDatabaseError(f"not a database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreDatabaseError(
            f"the store runs on sqlite or postgresql, not {parsed.get_backend_name()}"
        )
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the API) never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; WAL stays safe
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An engine for ``url``; an SQLite file's folder is created, and the file is in WAL
    mode with a busy timeout. JSON columns go through orjson."""
    parsed = normalise_url(url)
    options = {"json_serializer": _json_text, "json_deserializer": orjson.loads, **options}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, **options)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, **options)
