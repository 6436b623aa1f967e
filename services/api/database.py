"""The API's connection to the store's database: read-only at the database itself.

SQLite connections run with ``PRAGMA query_only`` (and wait for the store's writer
rather than failing on a lock); PostgreSQL sessions start with
``default_transaction_read_only``. A bug in a query can therefore never write.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["read_engine"]


def read_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine on the store's database whose every connection is read-only."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 10}, **kwargs)

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only = ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"options": "-c default_transaction_read_only=on"},
            **kwargs,
        )
    return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)
