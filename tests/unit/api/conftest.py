"""A store database (SQLite in the test's directory) and the query API in-process on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.catalog.model import Service
from tests.unit.api.rows import store_engine


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sa.Engine]:
    """The store's tables in an empty SQLite file; fill it with ``tests.unit.api.rows``."""
    engine = store_engine(str(tmp_path / "store.db"))
    yield engine
    engine.dispose()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        {
            "payments-api": Service(
                name="payments-api",
                pipelines=frozenset({"payments-api"}),
                pipeline_tags=frozenset({"team-payments"}),
                test_suites=frozenset({"payments-pytest"}),
                pagerduty_services=frozenset({"PABC123"}),
                team="payments",
            ),
            "ledger": Service(name="ledger", team="core-banking"),
        }
    )


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(database_url=f"sqlite:///{tmp_path / 'store.db'}")


@asynccontextmanager
async def serving(settings: ApiSettings, catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    """The query API in-process (its lifespan run), with a client talking to it."""
    app = create_app(settings, catalog=catalog)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
async def api(
    store: sa.Engine, settings: ApiSettings, catalog: Catalog
) -> AsyncIterator[httpx.AsyncClient]:
    """The query API on ``store`` (read-only, open: no read tokens)."""
    async with serving(settings, catalog) as client:
        yield client
