"""Services from the catalog, with what the store knows of each; and the OpenAPI document."""

from __future__ import annotations

import re

import httpx
import sqlalchemy as sa

from services.api.routes import ROUTES
from tests.unit.api.rows import (
    T0,
    add_alert,
    add_build,
    add_deploy,
    add_incident,
    add_pipeline,
    add_test,
    hours,
)


async def test_services_list_the_catalog_by_name_in_pages(api: httpx.AsyncClient) -> None:
    first = (await api.get("/api/v1/services", params={"limit": 1})).json()
    assert [s["name"] for s in first["items"]] == ["ledger"]
    second = (
        await api.get("/api/v1/services", params={"limit": 1, "cursor": first["next"]})
    ).json()
    assert [s["name"] for s in second["items"]] == ["payments-api"]
    assert second["next"] is None
    assert second["items"][0]["pagerduty_services"] == ["PABC123"]
    team = (await api.get("/api/v1/services", params={"team": "payments"})).json()
    assert [s["name"] for s in team["items"]] == ["payments-api"]


async def test_a_service_has_its_pipelines_builds_deploys_incidents_alerts_and_flaky_tests(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        add_pipeline(conn, "payments-api")
        add_pipeline(conn, "payments-worker", tags=["team-payments"])  # by tag
        add_pipeline(conn, "ledger-ci")
        add_build(conn, "b1", "payments-api", created_at=T0)
        add_build(conn, "b2", "payments-worker", created_at=T0 + hours(1))
        add_build(conn, "b3", "ledger-ci", created_at=T0 + hours(2))
        add_deploy(conn, "d1", "payments-api")
        add_deploy(conn, "d2", "ledger")
        add_incident(conn, "i1", "PABC123")
        add_incident(conn, "i2", "payments-api", opened_at=T0 + hours(1))
        add_incident(conn, "i3", "PZZZ999")
        add_alert(conn, "a1")
        add_alert(conn, "a2", service="ledger")
        add_test(conn, "payments-pytest/cart/test_total", status="flaky", score=0.3)
        add_test(conn, "ledger-rspec/x/y", status="flaky", score=0.9, service="ledger")
    response = await api.get("/api/v1/services/payments-api")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"]["team"] == "payments"
    assert [p["slug"] for p in body["pipelines"]] == ["payments-api", "payments-worker"]
    assert [b["id"] for b in body["builds"]] == ["b2", "b1"]
    assert [d["deploy_id"] for d in body["deploys"]] == ["d1"]
    assert [i["incident_id"] for i in body["incidents"]] == ["i2", "i1"]
    assert [a["alert_id"] for a in body["alerts"]] == ["a1"]
    assert [t["test_key"] for t in body["flaky_tests"]] == ["payments-pytest/cart/test_total"]
    fewer = (await api.get("/api/v1/services/payments-api", params={"recent": 1})).json()
    assert [b["id"] for b in fewer["builds"]] == ["b2"]


async def test_openapi_describes_every_route_and_its_parameters(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    for route in ROUTES:
        operation = spec["paths"][route.openapi_path]["get"]
        assert operation["operationId"] == route.operation_id
        names = {p["name"] for p in operation["parameters"]}
        assert names == {p.name for p in route.params} | set(re.findall(r"{(\w+)", route.path))
        assert {"200", "401", "422"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    for ref in re.findall(r'"#/components/schemas/(\w+)"', str(spec).replace("'", '"')):
        assert ref in schemas, ref
    assert schemas["Build"]["properties"]["created_at"] == {
        "type": ["string", "null"],
        "format": "date-time",
    }
    contract = {
        "/api/v1/services",
        "/api/v1/services/{name}",
        "/api/v1/pipelines/{slug}/builds",
        "/api/v1/tests",
        "/api/v1/tests/flaky",
        "/api/v1/tests/{key}/history",
        "/api/v1/alerts",
        "/api/v1/deploys",
        "/api/v1/incidents",
    }
    assert contract <= set(spec["paths"])
