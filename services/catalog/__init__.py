"""The service catalog: which pipelines, deploys, test suites and PagerDuty services
belong to which service, and who depends on whom.

Loaded from ``KITESTREAM_CATALOG`` (see :mod:`services.catalog.loader` for the format);
the correlator routes events by it and the dispatcher routes alerts by team.
"""

from __future__ import annotations

from services.catalog.catalog import Catalog
from services.catalog.errors import CatalogError, Problem
from services.catalog.loader import load_catalog
from services.catalog.model import PipelineInfo, Service, SuiteInfo
from services.catalog.repository import normalise_repository

__all__ = [
    "Catalog",
    "CatalogError",
    "PipelineInfo",
    "Problem",
    "Service",
    "SuiteInfo",
    "load_catalog",
    "normalise_repository",
]
