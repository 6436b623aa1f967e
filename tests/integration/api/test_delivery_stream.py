"""Delivery metrics through real Kafka and the real ``kitestream store`` process, on
SQLite and PostgreSQL: the history of ``tests/unit/api/test_delivery.py`` sent as the
contract topics' messages gives the same hand-computed four keys.

payments-api, November 2026: deploys by ``POST /api/deploys`` (started, then
succeeded; a short SHA), by a passed build of its deploy pipeline and by a passed
``deploy-production`` job; an incident on its PagerDuty id that a
``failure_deploy_incident`` alert links to the job's deploy; one with no alert.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from schemas.alerts import Alert
from schemas.buildkite import Build, BuildEvent, BuildRef, Job, JobEvent, Pipeline
from schemas.operations import DeployEvent, IncidentEvent
from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.catalog.model import Service
from services.common.topics import Topics
from tests.integration.api.process import started
from tests.integration.store.tables_io import produce, wait_for_offsets
from tests.store_stream import Message
from tests.unit.api.conftest import serving

pytestmark = pytest.mark.integration

SHA1, SHA2, SHA3 = ("abc1234" + "0" * 33), ("def5678" + "0" * 33), ("fed9876" + "0" * 33)
APP = Pipeline(slug="payments-api", name="Payments API")
DEPLOY = Pipeline(slug="payments-deploy", name="Payments deploy")
CATALOG = Catalog(
    {
        "payments-api": Service(
            name="payments-api",
            pipelines=frozenset({"payments-api"}),
            deploy_pipelines=frozenset({"payments-deploy"}),
            deploy_steps=frozenset({"deploy-production"}),
            pagerduty_services=frozenset({"PABC123"}),
            environments=frozenset({"production"}),
            team="payments",
        ),
        "ledger": Service(name="ledger", team="payments"),
    }
)


def at(day: str, hour: float) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour)


def _build(
    build_id: str, pipeline: Pipeline, commit: str, created: datetime, done: datetime
) -> Message:
    build = Build(
        id=build_id, number=1, state="passed", branch="main", commit=commit,
        web_url=f"https://buildkite.com/acme/{pipeline.slug}/builds/{build_id}",
        created_at=created, started_at=created, finished_at=done,
    )  # fmt: skip
    event = BuildEvent(
        event_id=f"ev-{build_id}", event="build.finished", received_at=done, pipeline=pipeline,
        build=build, payload={},
    )  # fmt: skip
    return ("buildkite.builds", pipeline.slug.encode(), event)


def _deploy(deploy_id: str, done: datetime, **kw: object) -> list[Message]:
    """Started, then succeeded at ``done``."""
    common: dict[str, object] = {
        "deploy_id": deploy_id, "service": "payments-api",
        "started_at": done - timedelta(minutes=5), **kw,
    }  # fmt: skip
    first = DeployEvent.model_validate(
        {**common, "event_id": f"{deploy_id}-1", "state": "started", "received_at": done}
    )
    ended = DeployEvent.model_validate(
        {**common, "event_id": f"{deploy_id}-2", "state": "succeeded", "finished_at": done,
         "received_at": done}
    )  # fmt: skip
    key = str(common["service"]).encode()
    return [("deploys", key, first), ("deploys", key, ended)]


def _incident(incident_id: str, service: str, opened: datetime, restore_h: float) -> list[Message]:
    base = {"incident_id": incident_id, "service": service, "title": "Checkout errors",
            "opened_at": opened, "source": "pagerduty"}  # fmt: skip
    resolved = opened + timedelta(hours=restore_h)
    return [
        ("incidents", service.encode(), IncidentEvent(
            event_id=f"{incident_id}-t", event="incident.triggered", status="triggered",
            received_at=opened, **base,
        )),
        ("incidents", service.encode(), IncidentEvent(
            event_id=f"{incident_id}-r", event="incident.resolved", status="resolved",
            changed_at=resolved, resolved_at=resolved, received_at=resolved, **base,
        )),
    ]  # fmt: skip


def history() -> list[Message]:
    job = JobEvent(
        event_id="ev-j1", event="job.finished", received_at=at("2026-11-03", 15), pipeline=APP,
        build=BuildRef(id="b-app3", number=3, branch="main", commit=SHA3),
        job=Job(id="j1", type="script", name="deploy", step_key="deploy-production",
                state="passed", exit_status=0, finished_at=at("2026-11-03", 15)),
        payload={},
    )  # fmt: skip
    alert = Alert(
        alert_id="a1", kind="failure_deploy_incident", severity="critical",
        service="payments-api", created_at=at("2026-11-03", 16.1),
        summary='payments-api: incident "Checkout errors" opened 1 h after deploy fed9876',
        deploy={"deploy_id": "job:j1", "service": "payments-api", "rank": 1, "candidates": 1},
        incident={"incident_id": "i1"}, reasons=["same commit"],
        links={"build": "https://buildkite.com/acme/payments-api/builds/3"},
    )  # fmt: skip
    return [
        _build("b-app1", APP, SHA1, at("2026-11-02", 8), at("2026-11-02", 8.5)),
        _build("b-app1b", APP, SHA1, at("2026-11-02", 9), at("2026-11-02", 9.5)),
        _build("b-app2", APP, SHA2, at("2026-11-02", 12), at("2026-11-02", 12.5)),
        _build("b-app3", APP, SHA3, at("2026-11-03", 14), at("2026-11-03", 14.5)),
        _build("b-dep1", DEPLOY, SHA2, at("2026-11-03", 11), at("2026-11-03", 12)),
        ("buildkite.jobs", b"payments-api", job),
        *_deploy("dep1", at("2026-11-02", 10), commit="abc1234"),
        *_deploy("dep2", at("2026-11-09", 9)),
        *_deploy("dep-staging", at("2026-11-04", 9), environment="staging"),
        *_deploy("led1", at("2026-11-05", 9), service="ledger"),
        *_incident("i1", "PABC123", at("2026-11-03", 16), 0.5),
        *_incident("i2", "payments-api", at("2026-11-10", 10), 4),
        ("alerts", b"payments-api", alert),
    ]


@pytest.fixture
async def api(
    engine: Engine, database_url: str, kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    total = await produce(kafka_bootstrap, kafka_topics, history())
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_DATABASE_URL": database_url,
        "KITESTREAM_STORE_GROUP_ID": f"{kafka_topics.prefix}store",
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


RANGE = {"since": "2026-11-02", "until": "2026-11-30", "weeks": "4"}


async def test_the_stored_stream_gives_the_hand_computed_four_keys(api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/v1/services/payments-api/delivery", params=RANGE)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    f = body["deployment_frequency"]
    assert (f["deploys"], f["deploy_days"], f["tier"], f["four_keys_bucket"]) == (
        4, 3, "medium", "monthly",
    )  # fmt: skip
    assert body["lead_time"]["median_s"] == 7200
    assert body["lead_time"]["commit_time_from"] == {"first_build": 3}
    cfr = body["change_failure_rate"]
    assert (cfr["rate"], cfr["tier"]) == (0.5, "low")
    assert [(d["deploy_id"], d["failed_by"]) for d in cfr["failed_deploys"]] == [
        ("job:j1", "alert"),
        ("deploy:dep2", "latest_deploy_before_incident"),
    ]
    assert cfr["failed_deploys"][0]["alerts"][0]["alert_id"] == "a1"
    assert body["time_to_restore"]["median_s"] == (1800 + 4 * 3600) / 2
    assert [w["deploys"] for w in body["weekly"]] == [3, 1, 0, 0]


async def test_the_team_rolls_up_both_services(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/teams/payments/delivery", params=RANGE)).json()
    assert body["deployment_frequency"]["deploys"] == 5
    assert [s["service"] for s in body["services"]] == ["ledger", "payments-api"]
