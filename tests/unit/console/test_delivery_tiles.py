"""The service page's delivery tiles, tier badges, 12-week charts and failed deploys."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.console.views import delivery_view
from tests.unit.api.conftest import serving
from tests.unit.api.test_delivery import _history, delivery_catalog

__all__ = ["delivery_catalog"]


@pytest.fixture
async def console(
    store: sa.Engine, settings: ApiSettings, delivery_catalog: Catalog
) -> AsyncIterator[httpx.AsyncClient]:
    with store.begin() as conn:
        _history(conn)
    async with serving(settings, delivery_catalog) as client:
        yield client


async def test_the_service_page_shows_four_tiles_with_tier_badges(
    console: httpx.AsyncClient,
) -> None:
    page = (await console.get("/services/payments-api")).text
    tiles = re.search(r'<section class="tiles" id="delivery-tiles">(.*?)</section>', page, re.S)
    assert tiles is not None
    assert tiles.group(1).count('class="tile delivery"') == 4
    for key in (
        "deployment frequency",
        "lead time for changes",
        "change failure rate",
        "time to restore",
    ):
        assert key in tiles.group(1)
    assert page.count("<svg") >= 2
    assert "Deploys per week, failed ones in red" in page


async def test_a_service_with_no_deploys_shows_no_data_badges(console: httpx.AsyncClient) -> None:
    page = (await console.get("/services/search")).text
    assert page.count('<span class="tier none">no data</span>') == 4
    assert "no deploys in this range" in page


def test_delivery_view_turns_the_answer_into_tiles_and_twelve_week_charts() -> None:
    week = {"deploys": 3, "failed": 1, "change_failure_rate": 1 / 3, "lead_time_s": 7200.0,
            "incidents": 1, "time_to_restore_s": 1800.0}  # fmt: skip
    answer = {
        "deployment_frequency": {"per_week": 1.5, "deploys": 6, "deploy_days": 5, "tier": "high"},
        "lead_time": {"median_s": 46800.0, "measured": 4, "tier": "elite"},
        "change_failure_rate": {
            "rate": 0.5,
            "failed": 3,
            "deploys": 6,
            "tier": "low",
            "failed_deploys": [],
        },
        "time_to_restore": {"median_s": 8100.0, "incidents": 3, "unresolved": 1, "tier": "high"},
        "notes": [],
        "weekly": [{**week, "week": f"2026-09-{7 + 7 * i:02d}"} for i in range(4)],
    }
    view = delivery_view(answer)
    assert [(t["value"], t["tier"]) for t in view["tiles"]] == [
        ("1.5/week", "high"), ("13h00m", "elite"), ("50%", "low"), ("2h15m", "high")
    ]  # fmt: skip
    assert view["bars"].count('<rect class="fail"') == 4
    assert "2026-09-07: 1 failed deploys" in view["bars"]
    assert view["weeks"] == 4
    assert view["tiles"][3]["detail"] == "median of 2 resolved incidents, 1 still open"
    assert view["hours"] is not None


def test_weeks_with_nothing_measured_get_no_empty_lines_chart() -> None:
    week = {"deploys": 0, "failed": 0, "change_failure_rate": None, "lead_time_s": None,
            "incidents": 0, "time_to_restore_s": None, "week": "2026-09-07"}  # fmt: skip
    answer = {
        "deployment_frequency": {"per_week": 0.0, "deploys": 0, "deploy_days": 0, "tier": None},
        "lead_time": {"median_s": None, "measured": 0, "tier": None},
        "change_failure_rate": {
            "rate": None,
            "failed": 0,
            "deploys": 0,
            "tier": None,
            "failed_deploys": [],
        },
        "time_to_restore": {"median_s": None, "incidents": 0, "unresolved": 0, "tier": None},
        "notes": ["no deploys in this range"],
        "weekly": [week],
    }
    view = delivery_view(answer)
    assert view["hours"] is None
    assert [t["value"] for t in view["tiles"]] == ["0.0/week", "-", "–", "-"]
