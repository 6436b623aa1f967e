"""POST /api/deploys and /api/incidents: what deploy and incident tools send, mapped.
(Credentials, media types and gzip are the endpoints' own: tests/unit/receiver.)"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.operations import DeployEvent, IncidentEvent
from services.ingest.api import (
    DEPLOY_STATES,
    INCIDENT_STATUSES,
    incident_status,
    parse_deploy,
    parse_incident,
)
from services.ingest.errors import InvalidPayload, MalformedBody
from services.ingest.request import load_json
from tests.unit.ingest.payloads import RECEIVED_AT, fixture


def _deploy(body: bytes) -> DeployEvent:
    """What ``POST /api/deploys`` makes of a body: the endpoint's own two calls."""
    return parse_deploy(load_json(body), RECEIVED_AT)


def _incident(body: bytes) -> IncidentEvent | None:
    """What ``POST /api/incidents`` makes of a body."""
    return parse_incident(load_json(body), RECEIVED_AT)


def test_buildkite_step_deploy_maps_every_field() -> None:
    event = _deploy(fixture("api/deploy_buildkite_curl.json"))
    assert event.model_dump(mode="json", exclude={"event_id"}) == {
        "deploy_id": "0190a1b3-1111-7e5f-8a9b-0c1d2e3f4a5b",
        "service": "payments-api",
        "environment": "production",
        "commit": "4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
        "state": "succeeded",
        "started_at": "2026-08-01T10:00:05Z",
        "finished_at": "2026-08-01T10:04:40Z",
        "url": "https://buildkite.com/acme/payments-api-deploy/builds/812",
        "source": "buildkite",
        "received_at": "2026-08-01T10:30:00Z",
    }


def test_argo_cd_running_then_succeeded_share_a_deploy_id() -> None:
    running = _deploy(fixture("api/deploy_argocd_running.json"))
    done = _deploy(fixture("api/deploy_argocd_succeeded.json"))
    assert (running.state, done.state) == ("started", "succeeded")
    assert running.finished_at is None  # "<no value>" from an unset template variable
    assert done.finished_at == datetime(2026, 8, 1, 10, 3, 12, tzinfo=UTC)
    assert running.deploy_id == done.deploy_id
    assert running.event_id != done.event_id
    assert running.environment == "payments-prod"


def test_github_actions_job_status_and_aliases_are_understood() -> None:
    event = _deploy(fixture("api/deploy_github_actions.json"))
    assert event.state == "failed"  # job.status "failure"
    assert event.environment == "staging"  # "env"
    assert event.commit == "9b8c7d6e5f4a4f3c2a1b9d8e7f6a5b4c3d2e1f0a"  # "sha"
    assert event.deploy_id == "10423451291-1"  # "id"
    assert event.finished_at == datetime(2026, 8, 1, 10, 20, tzinfo=UTC)  # "… UTC" form
    assert event.source == "github-actions"


def test_a_minimal_deploy_gets_defaults() -> None:
    event = _deploy(b'{"service": "ledger", "state": "started"}')
    assert (event.environment, event.source, event.commit) == ("production", "api", None)
    assert len(event.deploy_id) == 32


def test_posting_the_same_deploy_twice_gives_the_same_event_id() -> None:
    body = fixture("api/deploy_buildkite_curl.json")
    assert _deploy(body).event_id == _deploy(body).event_id


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("Succeeded", "succeeded"),
        ("success", "succeeded"),
        ("In Progress", "started"),
        ("in-progress", "started"),
        ("Error", "failed"),
        ("canceled", "cancelled"),
        ("Terminating", "cancelled"),
    ],
)
def test_deploy_state_synonyms(word: str, state: str) -> None:
    assert _deploy(orjson.dumps({"service": "s", "state": word})).state == state


def test_an_unknown_deploy_state_is_422_and_lists_the_known_ones() -> None:
    with pytest.raises(InvalidPayload, match="succeeded") as caught:
        _deploy(b'{"service": "s", "state": "exploded"}')
    assert caught.value.detail.startswith("deploy: state")


@pytest.mark.parametrize(
    "document",
    [
        {"state": "started"},
        {"service": "", "state": "started"},
        {"service": "<no value>", "state": "started"},
        {"service": "s"},
        {"service": "s", "state": "started", "started_at": "yesterday"},
        ["service", "state"],
    ],
)
def test_deploys_missing_what_they_need_are_422(document: object) -> None:
    with pytest.raises(InvalidPayload):
        _deploy(orjson.dumps(document))


def test_deploy_that_is_not_json_is_400() -> None:
    with pytest.raises(MalformedBody):
        _deploy(b"{service: s}")


def test_generic_incident_maps_severity_to_priority() -> None:
    event = _incident(fixture("api/incident_generic.json"))
    assert event is not None
    assert event.model_dump(mode="json", exclude={"event_id"}) == {
        "event": "incident.triggered",
        "incident_id": "INC-2026-0142",
        "number": None,
        "service": "payments-api",
        "service_name": None,
        "title": "Card authorisations failing for EU customers",
        "status": "triggered",
        "urgency": None,
        "priority": "SEV1",
        "url": "https://status.acme.dev/incidents/2026-0142",
        "opened_at": "2026-08-01T10:11:00Z",
        "changed_at": None,
        "resolved_at": None,
        "source": "statuspage",
        "received_at": "2026-08-01T10:30:00Z",
    }


def test_incident_io_shaped_incident_uses_the_aliases() -> None:
    event = _incident(fixture("api/incident_incidentio.json"))
    assert event is not None
    assert event.incident_id == "01J4Z8Q5K3M7N9P1R3T5V7X9Z1"
    assert event.title == "Checkout latency above SLO"
    assert event.status == "triggered"  # "Investigating"
    assert event.priority == "Major"
    assert event.url == "https://app.incident.io/acme/incidents/142"
    assert event.opened_at == datetime(2026, 8, 1, 10, 15, 42, 123000, tzinfo=UTC)
    assert event.changed_at == datetime(2026, 8, 1, 10, 19, 2, 554000, tzinfo=UTC)


def test_incident_without_status_is_resolved_when_it_has_a_resolved_time() -> None:
    body = b'{"id": "1", "service": "s", "title": "t", "resolved_at": "2026-08-01T11:00:00Z"}'
    event = _incident(body)
    assert event is not None
    assert (event.status, event.event) == ("resolved", "incident.resolved")
    assert event.opened_at == RECEIVED_AT  # no opened_at sent: when it was received


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("open", "triggered"),
        ("ACKED", "acknowledged"),
        ("closed", "resolved"),
        ("post-incident", "resolved"),
    ],
)
def test_incident_status_synonyms(word: str, status: str) -> None:
    assert incident_status(word) == status


def test_unknown_incident_status_is_422() -> None:
    with pytest.raises(InvalidPayload, match="incident status"):
        _incident(b'{"id": "1", "service": "s", "title": "t", "status": "on fire"}')


def test_opsgenie_create_close_and_note() -> None:
    created = _incident(fixture("api/incident_opsgenie_create.json"))
    closed = _incident(fixture("api/incident_opsgenie_close.json"))
    assert created is not None
    assert closed is not None
    assert (created.status, closed.status) == ("triggered", "resolved")
    assert created.service == "payments-api"  # the service: tag
    assert created.incident_id == closed.incident_id
    assert created.number == 1791
    assert created.priority == "P1"
    assert created.source == "opsgenie"
    assert created.opened_at == datetime(2026, 8, 1, 10, 1, 0, 123000, tzinfo=UTC)
    assert created.event_id != closed.event_id
    assert _incident(fixture("api/incident_opsgenie_addnote.json")) is None


def _service(document: object) -> str:
    event = _incident(orjson.dumps(document))
    assert event is not None
    return event.service


def test_opsgenie_service_comes_from_details_then_tags_then_entity() -> None:
    doc = orjson.loads(fixture("api/incident_opsgenie_create.json"))
    doc["alert"]["details"]["service"] = "ledger"
    assert _service(doc) == "ledger"
    del doc["alert"]["details"]["service"]
    doc["alert"]["tags"] = ["production"]
    assert _service(doc) == "payments-api-prod"
    del doc["alert"]["entity"]
    with pytest.raises(InvalidPayload, match="no service"):
        _incident(orjson.dumps(doc))


def test_opsgenie_alert_without_an_id_is_422() -> None:
    with pytest.raises(InvalidPayload, match="opsgenie"):
        _incident(b'{"action": "Create", "alert": {"message": "m"}}')


def test_every_synonym_maps_to_a_contract_value() -> None:
    assert set(DEPLOY_STATES.values()) == {"started", "succeeded", "failed", "cancelled"}
    assert set(INCIDENT_STATUSES.values()) == {"triggered", "acknowledged", "resolved"}


def test_parsed_documents_can_be_mapped_without_the_request() -> None:
    deploy = parse_deploy({"service": "ledger", "state": "deployed"}, RECEIVED_AT)
    assert deploy.state == "succeeded"
    assert parse_incident({"action": "AddNote", "alert": {"alertId": "a"}}, RECEIVED_AT) is None
    incident = parse_incident({"id": "7", "service": "ledger", "title": "t"}, RECEIVED_AT)
    assert incident is not None
    assert incident.status == "triggered"


@pytest.mark.parametrize(
    "started_at", ["9999-12-31T23:00:00-10:00", "0001-01-01T00:00:00+10:00", 10**20]
)
def test_a_time_that_cannot_be_in_utc_is_422_not_an_error(started_at: object) -> None:
    with pytest.raises(InvalidPayload, match="started_at"):
        parse_deploy({"service": "s", "state": "started", "started_at": started_at}, RECEIVED_AT)


def test_times_with_an_offset_are_stored_in_utc() -> None:
    deploy = parse_deploy(
        {"service": "s", "state": "started", "started_at": "2026-08-01T12:00:05+02:00"},
        RECEIVED_AT,
    )
    assert deploy.started_at == datetime(2026, 8, 1, 10, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize("number", [str(2**64), -1, 2**53])
def test_an_incident_number_outside_what_json_readers_keep_is_422(number: object) -> None:
    with pytest.raises(InvalidPayload, match="number"):
        parse_incident({"id": "i", "service": "s", "title": "t", "number": number}, RECEIVED_AT)


@pytest.mark.parametrize(("tiny_id", "number"), [("1791", 1791), ("²", None), ("9" * 40, None)])
def test_an_opsgenie_tiny_id_becomes_the_number_only_when_it_is_a_plain_one(
    tiny_id: str, number: int | None
) -> None:
    alert = {"alertId": "a-1", "tinyId": tiny_id, "message": "m", "entity": "ledger"}
    incident = parse_incident({"action": "Create", "alert": alert}, RECEIVED_AT)
    assert incident is not None
    assert incident.number == number
