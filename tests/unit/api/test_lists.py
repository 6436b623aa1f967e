"""The list endpoints over a store filled directly: filters, order, shape, errors."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from tests.unit.api.rows import (
    T0,
    add_alert,
    add_build,
    add_delivery,
    add_deploy,
    add_incident,
    add_pipeline,
    add_test,
    hours,
)


async def items(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"items", "next"}
    return list(body["items"])


async def test_alerts_are_newest_first_and_filtered_by_kind_service_severity_since(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_alert(conn, "old", created_at=T0 - hours(48))
        add_alert(conn, "flaky", created_at=T0, kind="flaky_test", severity="warning",
                  service="ledger", subject="suite/scope/name")  # fmt: skip
        add_alert(conn, "new", created_at=T0 + hours(1))
    got = await items(api, "/api/v1/alerts")
    assert [a["alert_id"] for a in got] == ["new", "flaky", "old"]
    assert got[0]["created_at"] == "2026-08-01T11:00:00Z"
    assert got[0]["kind"] == "failure_deploy_incident"
    assert [a["alert_id"] for a in await items(api, "/api/v1/alerts", kind="flaky_test")] == [
        "flaky"
    ]
    assert [a["alert_id"] for a in await items(api, "/api/v1/alerts", service="ledger")] == [
        "flaky"
    ]
    by_severity = await items(api, "/api/v1/alerts", severity="critical")
    assert [a["alert_id"] for a in by_severity] == ["new", "old"]
    since = await items(api, "/api/v1/alerts", since="2026-08-01T09:00:00Z")
    assert [a["alert_id"] for a in since] == ["new", "flaky"]
    until = await items(api, "/api/v1/alerts", until="2026-08-01")
    assert [a["alert_id"] for a in until] == ["old"]
    subject = await items(api, "/api/v1/alerts", subject="suite/scope/name")
    assert [a["alert_id"] for a in subject] == ["flaky"]


async def test_one_alert_comes_with_its_deliveries(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_alert(conn, "a1")
        add_delivery(conn, "a1", "slack")
        add_delivery(conn, "a1", "pagerduty", outcome="dead_lettered", attempts=5, note="410")
    response = await api.get("/api/v1/alerts/a1")
    assert response.status_code == 200
    body = response.json()
    assert body["alert_id"] == "a1"
    assert [(d["sink"], d["outcome"], d["attempts"]) for d in body["deliveries"]] == [
        ("pagerduty", "dead_lettered", 5),
        ("slack", "delivered", 1),
    ]
    missing = await api.get("/api/v1/alerts/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


async def test_builds_of_a_pipeline_filter_by_branch_state_and_time(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_pipeline(conn, "app")
        add_build(conn, "b1", "app", created_at=T0, state="passed")
        add_build(conn, "b2", "app", created_at=T0 + hours(1), state="failed")
        add_build(conn, "b3", "app", created_at=T0 + hours(2), branch="feature")
        # Known only from its jobs so far: no created_at, sorted by when it was seen.
        add_build(conn, "b4", "app", created_at=None, event_at=T0 + hours(3))
        add_build(conn, "x1", "other", created_at=T0)
    everything = await items(api, "/api/v1/pipelines/app/builds")
    assert [b["id"] for b in everything] == ["b4", "b3", "b2", "b1"]
    main = await items(api, "/api/v1/pipelines/app/builds", branch="main")
    assert [b["id"] for b in main] == ["b4", "b2", "b1"]
    failed = await items(api, "/api/v1/pipelines/app/builds", state="failed")
    assert [b["id"] for b in failed] == ["b2"]
    window = await items(
        api, "/api/v1/pipelines/app/builds", since="2026-08-01T10:30:00Z", until=T0 + hours(2.5)
    )
    assert [b["id"] for b in window] == ["b3", "b2"]
    assert (await api.get("/api/v1/pipelines/nope/builds")).status_code == 404
    assert [p["slug"] for p in await items(api, "/api/v1/pipelines")] == ["app"]


async def test_deploys_and_incidents_newest_first_with_service_filters(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_deploy(conn, "d1", "payments-api", started_at=T0)
        add_deploy(conn, "d2", "ledger", started_at=T0 + hours(1), environment="staging")
        add_deploy(conn, "d3", "payments-api", started_at=None, finished_at=T0 + hours(2))
        add_incident(conn, "i1", "PABC123", opened_at=T0)  # PagerDuty's id for payments-api
        add_incident(conn, "i2", "ledger", opened_at=T0 + hours(1), status="resolved")
    deploys = await items(api, "/api/v1/deploys")
    assert [d["deploy_id"] for d in deploys] == ["d3", "d2", "d1"]
    mine = await items(api, "/api/v1/deploys", service="payments-api")
    assert [d["deploy_id"] for d in mine] == ["d3", "d1"]
    staging = await items(api, "/api/v1/deploys", environment="staging")
    assert [d["deploy_id"] for d in staging] == ["d2"]
    incidents = await items(api, "/api/v1/incidents")
    assert [i["incident_id"] for i in incidents] == ["i2", "i1"]
    by_catalog_name = await items(api, "/api/v1/incidents", service="payments-api")
    assert [i["incident_id"] for i in by_catalog_name] == ["i1"]
    resolved = await items(api, "/api/v1/incidents", status="resolved")
    assert [i["incident_id"] for i in resolved] == ["i2"]


async def test_tests_search_by_suite_service_and_text_with_wildcards_taken_literally(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_test(conn, "payments-pytest/tests.cart/test_total")
        add_test(conn, "payments-pytest/tests.cart/test_100%_off")
        add_test(conn, "ledger-rspec/Ledger/balances_add_up", service="ledger")
        add_test(conn, "app#deploy", kind="step", suite=None, pipeline="app", step_key="deploy")
    every = await items(api, "/api/v1/tests")
    assert [t["test_key"] for t in every] == [
        "app#deploy",
        "ledger-rspec/Ledger/balances_add_up",
        "payments-pytest/tests.cart/test_100%_off",
        "payments-pytest/tests.cart/test_total",
    ]
    by_suite = await items(api, "/api/v1/tests", suite="ledger-rspec")
    assert [t["name"] for t in by_suite] == ["balances_add_up"]
    by_service = await items(api, "/api/v1/tests", service="payments-api")  # its catalog suite
    assert len(by_service) == 2
    assert [t["name"] for t in await items(api, "/api/v1/tests", q="TOTAL")] == ["test_total"]
    assert [t["name"] for t in await items(api, "/api/v1/tests", q="100%")] == ["test_100%_off"]
    assert await items(api, "/api/v1/tests", q="1_0") == []  # `_` is no wildcard
    assert [t["test_key"] for t in await items(api, "/api/v1/tests", kind="step")] == ["app#deploy"]


async def test_flaky_tests_are_the_flagged_ones_highest_score_first(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_test(conn, "s/a/low", status="flaky", score=0.2, flaky_since=T0)
        add_test(conn, "s/a/high", status="flaky", score=0.9, flaky_since=T0)
        add_test(conn, "s/a/calm", status="stable", score=0.0)
        add_test(conn, "app#lint", kind="step", suite=None, pipeline="app", status="flaky",
                 score=0.5)  # fmt: skip
    flaky = await items(api, "/api/v1/tests/flaky")
    assert [t["test_key"] for t in flaky] == ["s/a/high", "app#lint", "s/a/low"]
    assert flaky[0]["flaky_since"] == "2026-08-01T10:00:00Z"
    assert [t["test_key"] for t in await items(api, "/api/v1/tests/flaky", pipeline="app")] == [
        "app#lint"
    ]


async def test_a_tests_history_is_days_newest_first_each_with_its_evidence(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    from tests.unit.api.rows import add_day, add_evidence

    key = "payments-pytest/tests.cart/test_total/tests/cart.py"
    with store.begin() as conn:
        add_test(conn, key, status="flaky", score=0.4)
        for offset in range(3):
            add_day(conn, key, date(2026, 8, 1) + timedelta(days=offset), runs=10 + offset)
        add_day(conn, "other/x/y", date(2026, 8, 2))
        add_evidence(conn, "e1", key, T0 + hours(1))
        add_evidence(conn, "e2", key, T0 + timedelta(days=2), kind="job_retry")
        add_evidence(conn, "e3", "other/x/y", T0)
    response = await api.get(f"/api/v1/tests/{key}/history")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["test"]["test_key"] == key
    assert [(d["day"], d["runs"]) for d in body["items"]] == [
        ("2026-08-03", 12),
        ("2026-08-02", 11),
        ("2026-08-01", 10),
    ]
    assert [[e["id"] for e in d["evidence"]] for d in body["items"]] == [["e2"], [], ["e1"]]
    assert body["items"][2]["evidence"][0]["urls"] == ["https://buildkite.com/acme/app/builds/1#j1"]
    # Slashes percent-encoded work too; a range of days; paging by day.
    encoded = key.replace("/", "%2F")
    ranged = await api.get(f"/api/v1/tests/{encoded}/history?since=2026-08-02&limit=1")
    assert [d["day"] for d in ranged.json()["items"]] == ["2026-08-03"]
    second = await api.get(
        f"/api/v1/tests/{encoded}/history",
        params={"since": "2026-08-02", "limit": "1", "cursor": ranged.json()["next"]},
    )
    assert [d["day"] for d in second.json()["items"]] == ["2026-08-02"]
    assert second.json()["next"] is None
    assert (await api.get(f"/api/v1/tests/{key}")).json()["score"] == 0.4
    assert (await api.get("/api/v1/tests/no/such/test/history")).status_code == 404
    assert (await api.get("/api/v1/tests/no/such/test")).status_code == 404
