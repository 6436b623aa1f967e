"""The API's connection to the store's database: the store's engine, read-only at the
database itself.

The engine is the store's (:func:`services.store.database.make_engine`: SQLite in WAL
mode so that readers never block its writer, ``postgresql://`` meaning psycopg 3).
On top, SQLite connections run with ``PRAGMA query_only`` and PostgreSQL sessions start
with ``default_transaction_read_only``: a bug in a query can never write.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.common.settings import SettingsError
from services.store.database import StoreDatabaseError, make_engine, normalise_url

__all__ = ["read_engine"]


def _query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def read_engine(url: str | sa.URL, **options: Any) -> sa.Engine:
    """An engine on the store's database whose every connection is read-only."""
    try:
        backend = normalise_url(url).get_backend_name()
        if backend == "postgresql":
            args = {"options": "-c default_transaction_read_only=on"}
            return make_engine(url, connect_args=args, **options)
        engine = make_engine(url, **options)
    except StoreDatabaseError as exc:
        raise SettingsError([f"KITESTREAM_DATABASE_URL: {exc}"]) from None
    sa.event.listen(engine, "connect", _query_only)
    return engine
