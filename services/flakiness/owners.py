"""Which catalog service a flaky test or step belongs to, for its alerts' ``service``.

A test belongs to the services whose ``test_suites`` name its suite; failing that, to
those its pipeline maps to (by slug, tag or repository, as the correlator maps
builds), taking the newest pipeline its window ran on. A step belongs to those its
pipeline maps to. When several services claim one, the first by name is taken, so the
answer is the same on every instance and after every restart. No catalog, or nothing
that maps: ``None``, as before.

It is asked once per alert (flags change rarely), never per result: the hot path does
not see the catalog. :class:`Owners` holds the catalog of ``KITESTREAM_CATALOG`` and
swaps a new one in whole on :meth:`Owners.reload` (SIGHUP), keeping the old one when
the new one has errors, as the correlator does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from services.catalog import Catalog, CatalogError, load_catalog
from services.flakiness.execution import Subject, TestSubject

__all__ = ["Owners", "service_of"]

log = logging.getLogger(__name__)


def service_of(catalog: Catalog, subject: Subject, pipelines: Iterable[str]) -> str | None:
    """The service ``subject`` belongs to; ``pipelines``: where a test ran, newest first."""
    if isinstance(subject, TestSubject):
        found = catalog.services_for_suite(subject.suite)
        if not found:
            for pipeline in pipelines:
                if found := catalog.services_for_pipeline(pipeline):
                    break
    else:
        found = catalog.services_for_pipeline(subject.pipeline)
    return min(found) if found else None


class Owners:
    """The current catalog, asked which service a subject belongs to."""

    def __init__(self, catalog: Catalog | None = None, path: Path | None = None) -> None:
        self.catalog = catalog or Catalog()
        self.path = path

    @classmethod
    def load(cls, path: Path | None) -> Owners:
        """The catalog at ``path`` (none: every answer is ``None``); raises
        :class:`~services.catalog.CatalogError` when it has errors."""
        return cls(_read(path), path)

    def service_of(self, subject: Subject, pipelines: Iterable[str] = ()) -> str | None:
        if not self.catalog.services:
            return None
        return service_of(self.catalog, subject, pipelines)

    def reload(self) -> bool:
        """Read the catalog again; ``False`` (keeping the old one) when it has errors."""
        try:
            catalog = _read(self.path)
        except CatalogError as exc:
            for problem in exc.problems:
                log.error("catalog not reloaded: %s", problem)
            return False
        self.catalog = catalog or Catalog()
        return True


def _read(path: Path | None) -> Catalog | None:
    if path is None:
        log.info("no KITESTREAM_CATALOG: flaky alerts name no service")
        return None
    catalog = load_catalog(path)
    for warning in catalog.warnings:
        log.warning("catalog: %s", warning)
    log.info("catalog %s: %d services", path, len(catalog.services))
    return catalog
