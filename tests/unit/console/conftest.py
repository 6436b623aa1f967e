"""The console in-process on a store database written row by row (the query API's unit
fixtures: ``store``, ``catalog``, ``settings``, ``api``)."""

from __future__ import annotations

from tests.unit.api.conftest import api, catalog, settings, store

__all__ = ["api", "catalog", "settings", "store"]
