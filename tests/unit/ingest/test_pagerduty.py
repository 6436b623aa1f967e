"""PagerDuty v3 webhooks: signatures checked against every secret, incidents mapped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import SecretStr

from schemas.operations import IncidentEvent
from services.ingest.auth import Secret
from services.ingest.errors import InvalidPayload, Unauthorized
from services.ingest.pagerduty import (
    match_signatures,
    offered_signatures,
    pagerduty_incident,
    read_webhook,
    sign,
    signing_keys,
)
from services.ingest.request import Headers
from tests.unit.ingest.payloads import RECEIVED_AT, fixture

SECRETS = ["whsec-old", "whsec-new"]


def _read(headers: Headers, body: bytes, secrets: Sequence[Secret]) -> IncidentEvent | None:
    """What ``POST /webhooks/pagerduty`` makes of a request: the endpoint's own calls."""
    offered = offered_signatures(headers)  # before the body
    return read_webhook(offered, body, signing_keys(secrets), received_at=RECEIVED_AT)


def _verify(headers: Headers, body: bytes, secrets: Sequence[Secret]) -> None:
    """The signature half of the endpoint's steps (the other half is parsing)."""
    match_signatures(offered_signatures(headers), body, signing_keys(secrets))


def _deliver(body: bytes, signature: str | None = None) -> IncidentEvent | None:
    return _read({"X-PagerDuty-Signature": signature or sign(body, "whsec-new")}, body, SECRETS)


def test_signature_is_v1_and_the_hex_hmac_sha256_of_the_body() -> None:
    # RFC 4231 test case 2
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_any_signature_matching_any_secret_is_accepted() -> None:
    body = fixture("pagerduty/incident_triggered.json")
    rotating = f"v1={'0' * 64},{sign(body, 'whsec-old')}, {sign(body, 'whsec-new')}"
    _verify({"x-pagerduty-signature": rotating}, body, SECRETS)
    _verify({"X-PAGERDUTY-SIGNATURE": sign(body, "whsec-old").upper()}, body, SECRETS)


@pytest.mark.parametrize(
    "signature",
    [
        "v1=" + "0" * 64,
        "v0=abcdef",  # no v1 at all
        "sha256=deadbeef",
        "v1=",
        "v1=not-hex-at-all",
    ],
)
def test_bad_signatures_are_401(signature: str) -> None:
    body = fixture("pagerduty/incident_triggered.json")
    with pytest.raises(Unauthorized):
        _verify({"X-PagerDuty-Signature": signature}, body, SECRETS)


def test_a_signature_over_another_body_is_401() -> None:
    body = fixture("pagerduty/incident_triggered.json")
    tampered = body.replace(b"P1", b"P5")
    with pytest.raises(Unauthorized, match="does not match") as caught:
        _verify({"X-PagerDuty-Signature": sign(body, "whsec-new")}, tampered, SECRETS)
    assert caught.value.reason == "bad_signature"


def test_a_missing_signature_is_401() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        _verify({}, b"{}", SECRETS)


def test_no_configured_secret_accepts_nothing() -> None:
    with pytest.raises(Unauthorized):
        _verify({"X-PagerDuty-Signature": sign(b"{}", "x")}, b"{}", [])


def test_an_unsigned_body_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(Unauthorized):
        _deliver(b"not json", signature="v1=" + "1" * 64)


def test_triggered_incident_maps_every_field() -> None:
    event = _deliver(fixture("pagerduty/incident_triggered.json"))
    assert event is not None
    assert event.model_dump(mode="json", exclude={"event_id"}) == {
        "event": "incident.triggered",
        "incident_id": "Q3LDL6Q2ELS4LH",
        "number": 4211,
        "service": "PABC123",
        "service_name": "payments-api (production)",
        "title": "Checkout error rate above 5% for 5 minutes",
        "status": "triggered",
        "urgency": "high",
        "priority": "P1",
        "url": "https://acme.pagerduty.com/incidents/Q3LDL6Q2ELS4LH",
        "opened_at": "2026-08-01T10:12:31Z",
        "changed_at": "2026-08-01T10:12:31.512000Z",
        "resolved_at": None,
        "source": "pagerduty",
        "received_at": "2026-08-01T10:30:00Z",
    }


@pytest.mark.parametrize(
    ("name", "status", "priority"),
    [
        ("incident_acknowledged", "acknowledged", "P1"),
        ("incident_priority_updated", "acknowledged", "P2"),
        ("incident_reopened", "triggered", "P1"),
        ("incident_resolved", "resolved", "P1"),
    ],
)
def test_incident_changes_map_to_their_status(name: str, status: str, priority: str) -> None:
    event = _deliver(fixture(f"pagerduty/{name}.json"))
    assert event is not None
    assert event.event == "incident." + name.removeprefix("incident_")
    assert (event.status, event.priority) == (status, priority)
    assert event.opened_at == datetime(2026, 8, 1, 10, 12, 31, tzinfo=UTC)


def test_resolved_incident_carries_when_it_was_resolved() -> None:
    event = _deliver(fixture("pagerduty/incident_resolved.json"))
    assert event is not None
    assert event.resolved_at == datetime(2026, 8, 1, 10, 58, 10, 777000, tzinfo=UTC)


def test_each_delivery_has_its_own_stable_event_id() -> None:
    ids = {
        name: pagerduty_incident(orjson.loads(fixture(f"pagerduty/{name}.json")), RECEIVED_AT)
        for name in ("incident_triggered", "incident_acknowledged", "incident_resolved")
    }
    assert len({e.event_id for e in ids.values() if e}) == 3
    again = pagerduty_incident(
        orjson.loads(fixture("pagerduty/incident_triggered.json")), datetime.now(UTC)
    )
    assert again is not None
    assert ids["incident_triggered"] is not None
    assert again.event_id == ids["incident_triggered"].event_id


@pytest.mark.parametrize("name", ["incident_annotated", "pagey_ping"])
def test_events_that_are_not_about_an_incident_state_are_ignored(name: str) -> None:
    assert _deliver(fixture(f"pagerduty/{name}.json")) is None


def test_service_events_are_ignored() -> None:
    body = orjson.dumps(
        {"event": {"id": "x", "event_type": "service.updated", "data": {"id": "PABC123"}}}
    )
    assert _deliver(body) is None


def test_status_falls_back_to_the_event_type() -> None:
    doc = orjson.loads(fixture("pagerduty/incident_resolved.json"))
    del doc["event"]["data"]["status"]
    del doc["event"]["id"]
    event = pagerduty_incident(doc, RECEIVED_AT)
    assert event is not None
    assert event.status == "resolved"
    assert len(event.event_id) == 32


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"messages": []}, "not a PagerDuty v3 webhook"),
        ({"event": {"event_type": "incident.triggered", "data": {"type": "incident"}}}, "id"),
        (
            {"event": {"event_type": "incident.triggered", "data": {"id": "Q1", "service": {}}}},
            "service.id",
        ),
    ],
)
def test_signed_bodies_of_the_wrong_shape_are_422(document: object, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        _deliver(orjson.dumps(document))


def test_signing_secrets_straight_from_the_settings_work_unrevealed() -> None:
    body = fixture("pagerduty/incident_triggered.json")
    signature = sign(body, SecretStr("whsec-new"))
    assert signature == sign(body, "whsec-new")
    _verify({"X-PagerDuty-Signature": signature}, body, [SecretStr("whsec-new")])


def test_offered_signatures_are_read_before_the_body() -> None:
    body = fixture("pagerduty/incident_triggered.json")
    header = f"{sign(body, 'a')}, V1={'AB' * 32}, v0=zz"
    assert offered_signatures({"x-pagerduty-signature": header}) == [
        sign(body, "a")[3:].encode(),
        b"ab" * 32,
    ]
    with pytest.raises(Unauthorized) as caught:
        offered_signatures({"x-pagerduty-signature": "v0=zz"})
    assert caught.value.reason == "malformed_credentials"


def test_a_parsed_document_maps_like_its_body() -> None:
    body = fixture("pagerduty/incident_acknowledged.json")
    assert pagerduty_incident(orjson.loads(body), RECEIVED_AT) == _deliver(body)


def test_an_incident_number_past_what_json_readers_keep_is_422() -> None:
    doc = orjson.loads(fixture("pagerduty/incident_triggered.json"))
    doc["event"]["data"]["number"] = str(2**64)
    with pytest.raises(InvalidPayload, match="number"):
        pagerduty_incident(doc, RECEIVED_AT)
