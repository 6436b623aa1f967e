"""The query API's integration tests run on both databases, with the store's fixtures:
``database_url`` (an empty SQLite file, and a fresh PostgreSQL database on the session's
server) and ``engine`` (migrated to the newest revision)."""

from __future__ import annotations

from tests.integration.store.conftest import database_url, engine

__all__ = ["database_url", "engine"]
