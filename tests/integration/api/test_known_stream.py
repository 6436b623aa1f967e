"""A known stream (tests/store_stream.py) through real Kafka and the real ``kitestream
store`` process into SQLite and PostgreSQL: the API returns exactly what was sent, and
paging any list hands out every row exactly once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.catalog.model import Service
from services.common.topics import Topics
from tests.integration.api.process import started
from tests.integration.store.tables_io import produce, wait_for_offsets
from tests.store_stream import stream
from tests.unit.api.conftest import serving

CHARGE = "payments-pytest/tests.test_pay/test_charge/tests/test_pay.py"
REFUND = "payments-pytest/tests.test_pay/test_refund/tests/test_pay.py"
VOID = "payments-pytest/tests.test_pay/test_void/tests/test_pay.py"

CATALOG = Catalog(
    {
        "payments-api": Service(
            name="payments-api",
            pipelines=frozenset({"payments-api"}),
            test_suites=frozenset({"payments-pytest"}),
            pagerduty_services=frozenset({"PABC123"}),
        )
    }
)


@pytest.fixture
async def api(
    engine: Engine, database_url: str, kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The stream sent, read by a ``kitestream store`` process, served by the API."""
    total = await produce(kafka_bootstrap, kafka_topics, stream())
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_DATABASE_URL": database_url,
        "KITESTREAM_STORE_GROUP_ID": f"{kafka_topics.prefix}store",
        # The stream is dated 2026-08-01: keep everything however old.
        "KITESTREAM_STORE_RESULTS_DAYS": "0",
        "KITESTREAM_STORE_ROLLUP_DAYS": "0",
        "KITESTREAM_STORE_EVENTS_DAYS": "0",
        "KITESTREAM_METRICS_PORT": "0",
        "KITESTREAM_LOG_FORMAT": "json",
    }
    log = tmp_path / "store.log"
    with started(["store"], env, log):
        await wait_for_offsets(engine, total, timeout_s=90)
    assert "Traceback" not in log.read_text(), log.read_text()
    async with serving(ApiSettings(database_url=database_url), CATALOG) as client:
        yield client


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def every_page(api: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[Any]:
    """The ``key`` of every item of a list, one item per page."""
    seen: list[Any] = []
    after: str | None = None
    while True:
        body = await get(api, path, limit=1, **params, **({"cursor": after} if after else {}))
        assert len(body["items"]) <= 1
        seen += [item[key] for item in body["items"]]
        after = body["next"]
        if after is None:
            return seen


async def test_the_api_returns_exactly_the_stream_sent(api: httpx.AsyncClient) -> None:
    builds = (await get(api, "/api/v1/pipelines/payments-api/builds"))["items"]
    assert [(b["id"], b["number"], b["state"], b["commit"]) for b in builds] == [
        ("b2", 2, "failed", "c2"),
        ("b1", 1, "passed", "c1"),
    ]
    assert builds[0]["url"] == "https://buildkite.com/acme/payments-api/builds/2"
    failed = (await get(api, "/api/v1/pipelines/payments-api/builds", state="failed"))["items"]
    assert [b["id"] for b in failed] == ["b2"]

    tests = (await get(api, "/api/v1/tests"))["items"]
    assert [(t["test_key"], t["status"]) for t in tests] == [
        (CHARGE, "stable"),
        (REFUND, None),
        (VOID, None),
    ]
    assert [t["name"] for t in (await get(api, "/api/v1/tests", q="refund"))["items"]] == [
        "test_refund"
    ]
    assert len((await get(api, "/api/v1/tests", service="payments-api"))["items"]) == 3
    assert (await get(api, "/api/v1/tests/flaky"))["items"] == []  # flagged, then cleared

    history = await get(api, f"/api/v1/tests/{CHARGE}/history")
    assert history["test"]["episodes"] == 1
    (day,) = history["items"]
    assert (day["day"], day["runs"], day["passes"], day["failures"], day["flaky"]) == (
        "2026-08-01", 2, 1, 1, 1,
    )  # fmt: skip
    (evidence,) = day["evidence"]
    assert evidence["kind"] == "job_retry"
    assert evidence["urls"] == ["https://buildkite.com/acme/payments-api/builds/1#j1"]
    results = (await get(api, f"/api/v1/tests/{CHARGE}/results"))["items"]
    assert [(r["event_id"], r["result"], r["attempt"]) for r in results] == [
        ("tr-2", "passed", 2),
        ("tr-1", "failed", 1),
    ]

    alerts = (await get(api, "/api/v1/alerts"))["items"]
    assert [(a["alert_id"], a["kind"], a["created_at"]) for a in alerts] == [
        ("a1", "failure_deploy_incident", "2026-08-01T10:41:00Z"),
        ("a2", "flaky_test", "2026-08-01T10:21:00Z"),
    ]
    assert alerts[0]["links"] == {"build": "https://buildkite.com/acme/payments-api/builds/2"}
    assert [
        a["alert_id"] for a in (await get(api, "/api/v1/alerts", kind="flaky_test"))["items"]
    ] == ["a2"]
    one = await get(api, "/api/v1/alerts/a1")
    assert [(d["sink"], d["outcome"]) for d in one["deliveries"]] == [("oncall", "delivered")]

    deploys = (await get(api, "/api/v1/deploys"))["items"]
    assert [(d["deploy_id"], d["state"], d["commit"]) for d in deploys] == [
        ("d1", "succeeded", "c2")
    ]
    incidents = (await get(api, "/api/v1/incidents", service="payments-api"))["items"]
    assert [(i["incident_id"], i["status"], i["title"]) for i in incidents] == [
        ("P1", "resolved", "Checkout errors")
    ]

    service = await get(api, "/api/v1/services/payments-api")
    assert [b["id"] for b in service["builds"]] == ["b2", "b1"]
    assert [d["deploy_id"] for d in service["deploys"]] == ["d1"]
    assert [i["incident_id"] for i in service["incidents"]] == ["P1"]
    assert [a["alert_id"] for a in service["alerts"]] == ["a1", "a2"]
    assert [p["slug"] for p in service["pipelines"]] == ["payments-api"]


async def test_paging_any_list_hands_out_every_row_exactly_once(api: httpx.AsyncClient) -> None:
    lists = {
        "/api/v1/pipelines/payments-api/builds": ("id", ["b2", "b1"]),
        "/api/v1/tests": ("test_key", [CHARGE, REFUND, VOID]),
        "/api/v1/alerts": ("alert_id", ["a1", "a2"]),
        "/api/v1/deploys": ("deploy_id", ["d1"]),
        "/api/v1/incidents": ("incident_id", ["P1"]),
        f"/api/v1/tests/{CHARGE}/results": ("event_id", ["tr-2", "tr-1"]),
        "/api/v1/services": ("name", ["payments-api"]),
    }
    for path, (key, expected) in lists.items():
        assert await every_page(api, path, key) == expected, path
