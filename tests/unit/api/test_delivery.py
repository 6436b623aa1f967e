"""``/api/v1/services/{name}/delivery`` and ``/api/v1/teams/{team}/delivery`` on a store
file, against numbers computed by hand.

payments-api, November 2026 (weeks from Monday 11-02)::

    deploy          how                         finished     commit first built   lead
    deploy:dep1     POST /api/deploys, abc1234  11-02 10:00  11-02 08:00 (b-app1)  2 h
    build:b-dep1    passed deploy pipeline      11-03 12:00  11-02 12:00 (b-app2)  24 h
    job:j1          passed deploy-production    11-03 15:00  11-03 14:00 (b-app3)  1 h
    deploy:dep2     POST /api/deploys           11-09 09:00  no commit
    (dep-staging to staging and dep-failed, failed: not deploys)

    i1 (PagerDuty PABC123) 11-03 16:00, resolved after 30 min: alert a1 links it to job:j1
    i2 (payments-api)      11-10 10:00, resolved after 4 h: no alert, latest deploy dep2
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.catalog.model import Service
from services.store import tables as t
from tests.unit.api.conftest import serving
from tests.unit.api.rows import add_build, add_deploy, add_incident, add_pipeline

SHA1 = "abc1234" + "0" * 33
SHA2 = "def5678" + "0" * 33
SHA3 = "fed9876" + "0" * 33
RANGE = {"since": "2026-11-02", "until": "2026-11-30", "weeks": "4"}


def at(day: str, hour: float) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour)


@pytest.fixture
def delivery_catalog() -> Catalog:
    return Catalog(
        {
            "payments-api": Service(
                name="payments-api",
                pipelines=frozenset({"payments-api"}),
                deploy_pipelines=frozenset({"payments-deploy"}),
                deploy_steps=frozenset({"deploy-production"}),
                pagerduty_services=frozenset({"PABC123"}),
                environments=frozenset({"production"}),
                depends_on=frozenset({"ledger"}),
                team="payments",
            ),
            "ledger": Service(name="ledger", team="payments"),
            "search": Service(name="search", team="search"),
        }
    )


def _deploy(conn: sa.Connection, deploy_id: str, service: str, done: datetime, **kw: Any) -> None:
    add_deploy(
        conn, deploy_id, service, started_at=done - timedelta(minutes=5), finished_at=done,
        event_at=done, **kw,
    )  # fmt: skip


def _history(conn: sa.Connection) -> None:
    add_pipeline(conn, "payments-api")
    add_build(conn, "b-app1", "payments-api", commit=SHA1, created_at=at("2026-11-02", 8))
    add_build(conn, "b-app1b", "payments-api", commit=SHA1, created_at=at("2026-11-02", 9))
    add_build(conn, "b-app2", "payments-api", commit=SHA2, created_at=at("2026-11-02", 12))
    add_build(conn, "b-app3", "payments-api", commit=SHA3, created_at=at("2026-11-03", 14))
    add_build(
        conn, "b-dep1", "payments-deploy", commit=SHA2, created_at=at("2026-11-03", 11),
        finished_at=at("2026-11-03", 12), url="https://buildkite.com/acme/payments-deploy/builds/1",
    )  # fmt: skip
    conn.execute(
        t.jobs.insert().values(
            id="j1", build_id="b-app3", pipeline="payments-api", step_key="deploy-production",
            state="passed", finished_at=at("2026-11-03", 15), event_id="ev-j1",
            event_at=at("2026-11-03", 15),
        )
    )  # fmt: skip
    _deploy(conn, "dep1", "payments-api", at("2026-11-02", 10), commit="abc1234")
    _deploy(conn, "dep2", "payments-api", at("2026-11-09", 9))
    _deploy(conn, "dep-staging", "payments-api", at("2026-11-04", 9), environment="staging")
    _deploy(conn, "dep-failed", "payments-api", at("2026-11-05", 9), state="failed")
    _deploy(conn, "led1", "ledger", at("2026-11-05", 9))
    add_incident(
        conn, "i1", "PABC123", opened_at=at("2026-11-03", 16),
        resolved_at=at("2026-11-03", 16.5), status="resolved", event_at=at("2026-11-03", 16.5),
    )  # fmt: skip
    add_incident(
        conn, "i2", "payments-api", opened_at=at("2026-11-10", 10),
        resolved_at=at("2026-11-10", 14), status="resolved", event_at=at("2026-11-10", 14),
    )  # fmt: skip
    body = {
        "alert_id": "a1",
        "kind": "failure_deploy_incident",
        "severity": "critical",
        "service": "payments-api",
        "created_at": "2026-11-03T16:01:00Z",
        "summary": 'payments-api: incident "Checkout 500s" opened 1 h after deploy fed9876',
        "deploy": {"deploy_id": "job:j1", "service": "payments-api", "rank": 1, "candidates": 1},
        "incident": {"incident_id": "i1"},
        "reasons": ["same commit"],
        "links": {"build": "https://buildkite.com/acme/payments-api/builds/3"},
    }
    conn.execute(
        t.alerts.insert().values(
            alert_id="a1", kind="failure_deploy_incident", severity="critical",
            service="payments-api", subject="payments-api", created_at=at("2026-11-03", 16),
            summary=body["summary"], body=body,
        )
    )  # fmt: skip
    # i1 also lined up with ledger's deploy (payments-api depends on ledger): candidate 2
    dependency = {
        **body,
        "alert_id": "a2",
        "deploy": {"deploy_id": "deploy:led1", "service": "ledger", "rank": 2, "candidates": 2},
    }
    conn.execute(
        t.alerts.insert().values(
            alert_id="a2", kind="failure_deploy_incident", severity="critical",
            service="payments-api", subject="payments-api", created_at=at("2026-11-03", 16),
            summary=body["summary"], body=dependency,
        )
    )  # fmt: skip


@pytest.fixture
async def api(
    store: sa.Engine, settings: ApiSettings, delivery_catalog: Catalog
) -> AsyncIterator[httpx.AsyncClient]:
    with store.begin() as conn:
        _history(conn)
    async with serving(settings, delivery_catalog) as client:
        yield client


async def test_a_services_four_keys_come_from_every_kind_of_deploy(api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/v1/services/payments-api/delivery", params=RANGE)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["service"] == "payments-api"
    assert body["team"] == "payments"
    frequency = body["deployment_frequency"]
    assert frequency["deploys"] == 4
    assert frequency["deploy_days"] == 3
    assert frequency["per_week"] == 1.0
    assert frequency["median_deploy_days_per_week"] == 0  # weeks 2, 1, 0, 0
    assert frequency["median_deploy_days_per_month"] == 3
    assert frequency["tier"] == "medium"
    assert frequency["four_keys_bucket"] == "monthly"
    lead = body["lead_time"]
    assert lead["median_s"] == 7200  # 1 h, 2 h, 24 h
    assert lead["commit_time_from"] == {"first_build": 3}
    assert lead["not_measured"] == 1
    assert lead["tier"] == "elite"
    restore = body["time_to_restore"]
    assert restore["median_s"] == (1800 + 4 * 3600) / 2
    assert restore["incidents"] == 2
    assert restore["tier"] == "high"


async def test_failed_deploys_link_to_their_alert_or_say_they_were_the_latest_before(
    api: httpx.AsyncClient,
) -> None:
    body = (await api.get("/api/v1/services/payments-api/delivery", params=RANGE)).json()
    cfr = body["change_failure_rate"]
    assert (cfr["rate"], cfr["failed"], cfr["deploys"], cfr["tier"]) == (0.5, 2, 4, "low")
    first, second = cfr["failed_deploys"]
    assert first["deploy_id"] == "job:j1"
    assert first["failed_by"] == "alert"
    assert first["alerts"][0]["alert_id"] == "a1"
    assert first["alerts"][0]["console"] == "/alerts/a1"
    assert first["alerts"][0]["links"]["build"].endswith("/builds/3")
    assert second["deploy_id"] == "deploy:dep2"
    assert second["failed_by"] == "latest_deploy_before_incident"
    assert second["incident_ids"] == ["i2"]


async def test_the_weekly_trend_has_one_row_per_monday(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/services/payments-api/delivery", params=RANGE)).json()
    weeks = body["weekly"]
    assert [w["week"] for w in weeks] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert [w["deploys"] for w in weeks] == [3, 1, 0, 0]
    assert [w["failed"] for w in weeks] == [1, 1, 0, 0]
    assert [w["change_failure_rate"] for w in weeks] == [1 / 3, 1.0, None, None]


async def test_a_dependencys_deploy_fails_by_the_alert_raised_for_its_dependent(
    api: httpx.AsyncClient,
) -> None:
    body = (await api.get("/api/v1/services/ledger/delivery", params=RANGE)).json()
    cfr = body["change_failure_rate"]
    assert (cfr["rate"], cfr["tier"]) == (1.0, "low")
    (failed,) = cfr["failed_deploys"]
    assert (failed["deploy_id"], failed["failed_by"]) == ("deploy:led1", "alert")
    assert (failed["alerts"][0]["alert_id"], failed["alerts"][0]["rank"]) == ("a2", 2)


async def test_a_service_with_no_deploys_says_so(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/services/search/delivery", params=RANGE)).json()
    assert body["deployment_frequency"]["deploys"] == 0
    assert body["change_failure_rate"]["rate"] is None
    assert body["change_failure_rate"]["tier"] is None
    assert body["notes"][0].startswith("no deploys in this range")


async def test_a_team_rolls_up_its_services_and_lists_each(api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/v1/teams/payments/delivery", params=RANGE)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["team"] == "payments"
    assert body["deployment_frequency"]["deploys"] == 5  # payments-api's 4 and ledger's led1
    assert body["change_failure_rate"]["failed"] == 3  # and ledger's led1, by alert a2
    assert [s["service"] for s in body["services"]] == ["ledger", "payments-api"]
    assert body["services"][0]["deployment_frequency"]["deploys"] == 1
    assert "failed_deploys" not in body["services"][0]["change_failure_rate"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/services/nobody/delivery", {}, 404),
        ("/api/v1/teams/nobody/delivery", {}, 404),
        ("/api/v1/services/payments-api/delivery", {"weeks": "0"}, 422),
        ("/api/v1/services/payments-api/delivery", {"weeks": "many"}, 422),
        (
            "/api/v1/services/payments-api/delivery",
            {"since": "2026-12-01", "until": "2026-11-01"},
            422,
        ),
        ("/api/v1/services/payments-api/delivery", {"until": "0001-01-01"}, 422),
        ("/api/v1/services/payments-api/delivery", {"since": "yesterday"}, 422),
    ],
)
async def test_bad_questions_get_a_clear_4xx(
    api: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    answer = await api.get(path, params=params)
    assert answer.status_code == status
    assert set(answer.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/api/v1/services/payments-api/delivery", "Delivery"),
        ("/api/v1/services/search/delivery", "Delivery"),
        ("/api/v1/teams/payments/delivery", "TeamDelivery"),
    ],
)
async def test_answers_match_the_openapi_document(
    api: httpx.AsyncClient, path: str, schema: str
) -> None:
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = (await api.get("/openapi.json")).json()
    registry = Registry().with_resource(
        "urn:api", Resource.from_contents({"components": spec["components"]}, DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": f"urn:api#/components/schemas/{schema}"},
        registry=registry,
        format_checker=FormatChecker(),
    )
    body = (await api.get(path, params=RANGE)).json()
    assert list(validator.iter_errors(body)) == []
    body["deployment_frequency"]["tier"] = "legendary"
    assert list(validator.iter_errors(body))  # the document does say what a tier is
