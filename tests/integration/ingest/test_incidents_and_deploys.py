"""PagerDuty webhooks and the /api/* endpoints through Kafka: incidents keyed by service
(PagerDuty: its service id), deploys keyed by service; ignored events and refused
requests write nothing."""

from __future__ import annotations

import gzip

import orjson

from services.common.topics import Topic
from tests.integration.ingest.conftest import INGEST_TOPICS, count_messages, read_topic
from tests.unit.ingest.payloads import fixture
from tests.unit.receiver.clients import API_TOKENS, PAGERDUTY_SECRETS, IngestReceiver

PAGERDUTY_EVENTS = (
    "incident_triggered",
    "incident_acknowledged",
    "incident_priority_updated",
    "incident_reopened",
    "incident_resolved",
)


async def test_pagerduty_incident_events_land_on_incidents_keyed_by_service_id(
    ingest: IngestReceiver,
) -> None:
    event_ids = []
    for index, name in enumerate(PAGERDUTY_EVENTS):
        body = fixture(f"pagerduty/{name}.json")
        # every other delivery signed as during a rotation: old and new secret
        secrets = PAGERDUTY_SECRETS if index % 2 else PAGERDUTY_SECRETS[1:]
        response = await ingest.pagerduty(body, secrets=secrets)
        assert response.status_code == 202, response.text
        answer = response.json()
        assert (answer["status"], answer["topic"], answer["delivery"]) == (
            "accepted",
            "incidents",
            "kafka",
        )
        event_ids.append(answer["event_id"])

    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.INCIDENTS, 5)
    values = {orjson.loads(r.value)["event_id"]: (r.key, orjson.loads(r.value)) for r in records}
    assert set(values) == set(event_ids)
    for key, value in values.values():
        assert key == b"PABC123"
        assert value["service"] == "PABC123"
        assert value["source"] == "pagerduty"
        assert value["incident_id"] == "Q3LDL6Q2ELS4LH"
    statuses = {value["event"]: value["status"] for _key, value in values.values()}
    assert statuses["incident.triggered"] == "triggered"
    assert statuses["incident.acknowledged"] == "acknowledged"
    assert statuses["incident.resolved"] == "resolved"
    assert statuses["incident.reopened"] == "triggered"


async def test_pagerduty_events_about_other_things_are_202_and_produce_nothing(
    ingest: IngestReceiver,
) -> None:
    for name in ("pagey_ping", "incident_annotated"):
        response = await ingest.pagerduty(fixture(f"pagerduty/{name}.json"))
        assert response.status_code == 202, response.text
        assert response.json() == {"status": "ignored"}
    counts = await count_messages(ingest.bootstrap, ingest.topics)
    assert set(counts.values()) == {0}, counts


async def test_deploys_from_each_tool_land_on_deploys_keyed_by_service(
    ingest: IngestReceiver,
) -> None:
    sent = {
        "deploy_buildkite_curl": ("payments-api", "succeeded"),
        "deploy_argocd_running": ("payments-api", "started"),
        "deploy_argocd_succeeded": ("payments-api", "succeeded"),
        "deploy_github_actions": ("web-checkout", "failed"),
    }
    answers: dict[str, tuple[str, str]] = {}
    for index, (name, expected) in enumerate(sent.items()):
        response = await ingest.api(
            "/api/deploys", raw=fixture(f"api/{name}.json"), token=API_TOKENS[index % 2]
        )
        assert response.status_code == 202, response.text
        assert response.json()["topic"] == "deploys"
        answers[response.json()["event_id"]] = expected

    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.DEPLOYS, 4)
    assert len(records) == 4
    for record in records:
        value = orjson.loads(record.value)
        service, state = answers[value["event_id"]]
        assert record.key == service.encode()
        assert (value["service"], value["state"]) == (service, state)
    counts = await count_messages(ingest.bootstrap, ingest.topics, INGEST_TOPICS)
    assert counts == {Topic.TEST_RESULTS: 0, Topic.DEPLOYS: 4, Topic.INCIDENTS: 0}


async def test_incidents_from_other_tools_land_on_incidents_keyed_by_service(
    ingest: IngestReceiver,
) -> None:
    sent = {
        "incident_generic": ("payments-api", "triggered", "statuspage"),
        "incident_incidentio": ("payments-api", "triggered", "incident.io"),
        "incident_opsgenie_create": ("payments-api", "triggered", "opsgenie"),
        "incident_opsgenie_close": ("payments-api", "resolved", "opsgenie"),
    }
    answers: dict[str, tuple[str, str, str]] = {}
    for name, expected in sent.items():
        body = fixture(f"api/{name}.json")
        response = await ingest.api(
            "/api/incidents",
            raw=gzip.compress(body),
            headers={"content-encoding": "gzip"},
        )
        assert response.status_code == 202, response.text
        answers[response.json()["event_id"]] = expected

    records = await read_topic(ingest.bootstrap, ingest.topics, Topic.INCIDENTS, 4)
    assert len(records) == 4
    for record in records:
        value = orjson.loads(record.value)
        service, status, source = answers[value["event_id"]]
        assert record.key == service.encode()
        assert (value["service"], value["status"], value["source"]) == (service, status, source)


async def test_an_opsgenie_note_is_202_and_produces_nothing(ingest: IngestReceiver) -> None:
    response = await ingest.api("/api/incidents", raw=fixture("api/incident_opsgenie_addnote.json"))
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "ignored"}
    counts = await count_messages(ingest.bootstrap, ingest.topics)
    assert set(counts.values()) == {0}, counts
