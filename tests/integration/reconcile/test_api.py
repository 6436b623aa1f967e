"""The REST client against a local API on real sockets: pages, retries, limits, 400s."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.reconcile import ApiError
from services.reconcile.api import BuildkiteApi
from services.reconcile.settings import ReconcileSettings
from services.reconcile.window import builds_in
from tests.integration.reconcile.buildkite_api import TOKEN, running_api
from tests.integration.reconcile.buildkite_api import BuildkiteApi as LocalApi
from tests.unit.reconcile.history import generate

START = datetime(2026, 8, 1, tzinfo=UTC)
HISTORY = generate(
    ["web", "api"], start=START, builds=30, every=timedelta(hours=1), flaky=frozenset({"api"})
)
LO, HI = START - timedelta(hours=1), START + timedelta(days=3)


def settings(url: str, **extra: Any) -> ReconcileSettings:
    knobs: dict[str, Any] = {"page_size": 7, "backoff_s": 0.05, "timeout_s": 1.0, **extra}
    return ReconcileSettings(api_token=TOKEN, organization="acme", api_url=url, **knobs)


async def test_every_page_is_followed_through_link_with_retried_jobs() -> None:
    local = LocalApi(HISTORY.builds)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            api = BuildkiteApi(client, settings(url))
            found = await builds_in(api, None, LO, HI)
            web = await builds_in(api, "web", LO, HI)
    assert set(found) == {b["id"] for b in HISTORY.builds}
    assert set(web) == {b["id"] for b in HISTORY.builds if b["pipeline"]["slug"] == "web"}
    assert sum(len(b["jobs"]) for b in found.values()) == sum(
        len(b["jobs"]) for b in HISTORY.builds
    )
    assert api.requests == len(local.served) == 9 + 5  # 60 builds / 7, 30 / 7


async def test_too_deep_a_page_narrows_the_window_and_misses_nothing() -> None:
    local = LocalApi(HISTORY.builds, max_page=2)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            api = BuildkiteApi(client, settings(url))
            found = await builds_in(api, None, LO, HI)
    assert set(found) == {b["id"] for b in HISTORY.builds}
    assert any(s.status == 400 for s in local.served)


async def test_5xx_garbage_and_timeouts_are_retried(caplog: pytest.LogCaptureFixture) -> None:
    local = LocalApi(HISTORY.builds, faults=["500", "garbage", "slow"], slow_s=2.0)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            api = BuildkiteApi(client, settings(url, page_size=100))
            with caplog.at_level(logging.WARNING):
                found = await builds_in(api, None, LO, HI)
    assert set(found) == {b["id"] for b in HISTORY.builds}
    assert [s.status for s in local.served] == [502, 200, 200, 200]  # slow: answered too late
    assert "retrying" in caplog.text
    assert TOKEN not in caplog.text


async def test_it_gives_up_after_max_attempts_with_a_clear_error() -> None:
    local = LocalApi(HISTORY.builds, faults=["500"] * 3)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            api = BuildkiteApi(client, settings(url, max_attempts=3))
            with pytest.raises(ApiError, match="HTTP 502, 3 attempts") as exc:
                await builds_in(api, None, LO, HI)
    assert TOKEN not in str(exc.value)


@pytest.mark.parametrize(
    ("token", "org", "message"),
    [("wrong", "acme", "refused"), (TOKEN, "nope", "No organization found")],
)
async def test_refusals_are_final_and_do_not_show_the_token(
    token: str, org: str, message: str
) -> None:
    local = LocalApi(HISTORY.builds)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            knobs = settings(url).model_copy(update={"organization": org})
            api = BuildkiteApi(client, knobs)
            api._auth = {"Authorization": f"Bearer {token}"}  # a wrong token
            with pytest.raises(ApiError, match=message) as exc:
                await builds_in(api, None, LO, HI)
    assert len(local.served) == 1
    assert token not in str(exc.value)


async def test_a_429_waits_for_the_reset_before_asking_again() -> None:
    local = LocalApi(HISTORY.builds, faults=["429"], window_s=2.0)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            api = BuildkiteApi(client, settings(url, page_size=100))
            found = await builds_in(api, None, LO, HI)
    assert len(found) == len(HISTORY.builds)
    refused, after = local.served[0], local.served[1]
    assert (refused.status, after.status) == (429, 200)
    assert after.window > refused.window  # not before the reset


async def test_the_budget_share_holds_per_window_on_the_server_side() -> None:
    local = LocalApi(HISTORY.builds, limit=10, user_limit=8, max_page=100)
    with running_api(local) as url:
        async with httpx.AsyncClient() as client:
            api = BuildkiteApi(client, settings(url, page_size=4, budget_share=0.5))
            found = await builds_in(api, None, LO, HI)
    assert len(found) == len(HISTORY.builds)  # 15 pages
    counts = local.per_window(status=None)
    assert max(counts.values()) <= 4  # half the user's 8 (the tighter of the two)
    assert all(s.status == 200 for s in local.served)  # never a 429 (nor a deep page)
