"""Alembic's environment for the store, configured in code (no alembic.ini needed).

:mod:`services.store.migrate` passes an open connection in ``config.attributes``.
Developers who prefer Alembic's own command line can point it here with
``script_location = services.store:migrations`` and ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from services.store.database import DEFAULT_DATABASE_URL, make_engine
from services.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or DEFAULT_DATABASE_URL
    with make_engine(url).begin() as opened:
        _run(opened)


_main()
