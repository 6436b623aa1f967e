"""What a route handler is given: a read connection, the query, path values, catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from services.api.errors import NotFound
from services.api.params import Query
from services.catalog.catalog import Catalog

__all__ = ["Ask"]


@dataclass(frozen=True)
class Ask:
    """One question to the store. Handlers are plain functions of an :class:`Ask`, so the
    CLI (``--database``) calls the same code the HTTP routes do."""

    conn: sa.Connection
    query: Query
    path: Mapping[str, str] = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog)

    def path_value(self, name: str) -> str:
        value = self.path.get(name, "")
        if not value:
            raise NotFound(f"{name}: missing from the path")
        return value

    def incident_services(self, service: str) -> list[str]:
        """The values ``incidents.service`` holds for a catalog service: its name, and its
        PagerDuty service ids (PagerDuty incidents are keyed by those)."""
        known = self.catalog.services.get(service)
        ids = sorted(known.pagerduty_services) if known else []
        return [service, *ids]
