"""The ingest endpoints' refusals without a broker (:class:`NoBroker` below the app):
each answers its error and writes nothing, credentials are checked before the body, and
an endpoint without credentials refuses everything. Integration tests prove the same
app on Kafka."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.common.topics import Topics
from services.ingest.pagerduty import sign
from tests.unit.ingest.payloads import fixture, gzipped, multipart
from tests.unit.receiver.clients import (
    PAGERDUTY_SECRETS,
    IngestReceiver,
    NoBroker,
    make_settings,
    running,
)


def _refusals() -> list[tuple[str, dict[str, Any], int, str]]:
    python = fixture("testengine/python_collector.json")
    form, form_type = multipart(
        {"format": "junit"}, {"data": ("junit.xml", fixture("junit/nested_suites.xml"))}
    )
    malformed, malformed_type = multipart(
        {"format": "junit"}, {"data": ("junit.xml", fixture("junit/malformed.xml"))}
    )
    bomb, bomb_type = multipart(
        {"format": "junit"}, {"data": ("junit.xml", fixture("junit/billion_laughs.xml"))}
    )
    huge = gzip.compress(b"[" + b" " * (11 * 1024 * 1024) + b"]")  # over the 10 MiB default
    return [
        ("wrong token", {"body": python, "token": "not-a-suite-token"}, 401, "unauthorized"),
        (
            "the suite name as token",
            {"body": python, "token": "payments-pytest"},
            401,
            "unauthorized",
        ),
        (
            "gzip that is not gzip",
            {"body": python, "headers": {"content-encoding": "gzip"}},
            400,
            "malformed_body",
        ),
        (
            "gzip cut short",
            {"body": gzipped(python)[:-12], "headers": {"content-encoding": "gzip"}},
            400,
            "malformed_body",
        ),
        (
            "truncated multipart",
            {"body": form[: len(form) // 2], "content_type": form_type},
            400,
            "malformed_body",
        ),
        (
            "malformed XML",
            {"body": malformed, "content_type": malformed_type},
            400,
            "malformed_body",
        ),
        ("an XML bomb", {"body": bomb, "content_type": bomb_type}, 400, "malformed_body"),
        ("not JSON", {"body": python[:-40]}, 400, "malformed_body"),
        (
            "a gzip body inflating past the limit",
            {"body": huge, "headers": {"content-encoding": "gzip"}},
            413,
            "payload_too_large",
        ),
        (
            "XML as the body",
            {"body": b"<testsuite/>", "content_type": "text/xml"},
            415,
            "unsupported_media_type",
        ),
        (
            "brotli",
            {"body": python, "headers": {"content-encoding": "br"}},
            415,
            "unsupported_media_type",
        ),
        ("no data array", {"body": orjson.dumps({"format": "json"})}, 422, "invalid_payload"),
    ]


async def test_refused_uploads_answer_their_error_and_write_nothing(
    ingest: IngestReceiver,
) -> None:
    refusals = _refusals()
    for what, options, status, code in refusals:
        body = options.pop("body")
        response = await ingest.upload(body, **options)
        assert response.status_code == status, (what, response.text)
        assert response.json()["error"] == code, what
        assert response.json()["detail"], what
    assert ingest.receiver.context.delivery.spool.pending_records == 0


async def test_credentials_are_checked_before_the_body_on_every_ingest_endpoint(
    ingest: IngestReceiver,
) -> None:
    over_the_limit = b"x" * (ingest.receiver.settings.max_body_bytes + 1)
    refused = [
        await ingest.upload(over_the_limit, token="nope", content_type="text/csv"),
        await ingest.pagerduty(over_the_limit, signature="", content_type="text/csv"),
        await ingest.api("/api/deploys", raw=over_the_limit, token=None),
        await ingest.api("/api/incidents", raw=over_the_limit, token="nope"),
    ]
    assert [r.status_code for r in refused] == [401, 401, 401, 401], [r.text for r in refused]
    # with credentials, the same bodies are refused for what they are
    assert (await ingest.upload(over_the_limit, content_type="text/csv")).status_code == 415
    assert (await ingest.api("/api/deploys", raw=over_the_limit)).status_code == 413


def _pagerduty_refusals() -> list[tuple[str, dict[str, Any], int, str]]:
    body = fixture("pagerduty/incident_triggered.json")
    other = fixture("pagerduty/incident_resolved.json")
    return [
        ("no signature", {"body": body, "signature": ""}, 401, "unauthorized"),
        ("no v1 signature", {"body": body, "signature": "v0=abc"}, 401, "unauthorized"),
        ("unknown secret", {"body": body, "secrets": ["whsec-unknown"]}, 401, "unauthorized"),
        (
            "signature of another body",
            {"body": body, "signature": sign(other, PAGERDUTY_SECRETS[0])},
            401,
            "unauthorized",
        ),
        (
            "signed, but not JSON",
            {"body": b"{not json", "secrets": PAGERDUTY_SECRETS[:1]},
            400,
            "malformed_body",
        ),
        (
            "signed, but another content type",
            {"body": body, "content_type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            "signed, but not a v3 webhook",
            {"body": b'{"messages": []}', "secrets": PAGERDUTY_SECRETS[:1]},
            422,
            "invalid_payload",
        ),
    ]


def _api_refusals() -> list[tuple[str, str, dict[str, Any], int, str]]:
    deploy = fixture("api/deploy_buildkite_curl.json")
    incident = fixture("api/incident_generic.json")
    return [
        ("no token", "/api/deploys", {"raw": deploy, "token": None}, 401, "unauthorized"),
        ("wrong token", "/api/deploys", {"raw": deploy, "token": "nope"}, 401, "unauthorized"),
        (
            "a suite token",
            "/api/incidents",
            {"raw": incident, "headers": {"authorization": 'Token token="suite-tok-py"'}},
            401,
            "unauthorized",
        ),
        ("not JSON", "/api/deploys", {"raw": deploy[:-5]}, 400, "malformed_body"),
        (
            "gzip that is not gzip",
            "/api/deploys",
            {"raw": deploy, "headers": {"content-encoding": "gzip"}},
            400,
            "malformed_body",
        ),
        (
            "form encoded",
            "/api/deploys",
            {"raw": b"service=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            415,
            "unsupported_media_type",
        ),
        (
            "no service",
            "/api/deploys",
            {"document": {"state": "succeeded"}},
            422,
            "invalid_payload",
        ),
        (
            "unknown state",
            "/api/deploys",
            {"document": {"service": "s", "state": "exploded"}},
            422,
            "invalid_payload",
        ),
        (
            "a time out of range",
            "/api/deploys",
            {
                "document": {
                    "service": "s",
                    "state": "started",
                    "started_at": "9999-12-31T23:00:00-10:00",
                }
            },
            422,
            "invalid_payload",
        ),
        (
            "an incident without title",
            "/api/incidents",
            {"document": {"id": "i-1", "service": "s"}},
            422,
            "invalid_payload",
        ),
        (
            "an opsgenie alert without service",
            "/api/incidents",
            {"document": {"action": "Create", "alert": {"alertId": "a-1", "message": "m"}}},
            422,
            "invalid_payload",
        ),
    ]


async def test_refused_webhooks_and_api_calls_answer_their_error_and_write_nothing(
    ingest: IngestReceiver,
) -> None:
    for what, options, status, code in _pagerduty_refusals():
        body = options.pop("body")
        response = await ingest.pagerduty(body, **options)
        assert response.status_code == status, (what, response.text)
        assert response.json()["error"] == code, what
    for what, path, options, status, code in _api_refusals():
        response = await ingest.api(path, **options)
        assert response.status_code == status, (what, response.text)
        assert response.json()["error"] == code, what
    assert ingest.receiver.context.delivery.spool.pending_records == 0
    metrics = (await ingest.receiver.client.get("/metrics")).text
    for route, reason in (
        ("/webhooks/pagerduty", "missing_credentials"),
        ("/webhooks/pagerduty", "bad_signature"),
        ("/api/deploys", "bad_token"),
        ("/api/incidents", "malformed_credentials"),
    ):
        assert f'reason="{reason}",route="{route}"' in metrics, (route, reason)


async def test_an_endpoint_without_credentials_refuses_everything_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings("no-broker:9092", Topics(), tmp_path / "spool")
    upload = fixture("testengine/python_collector.json")
    headers = {"authorization": 'Token token="anything"', "content-type": "application/json"}
    with caplog.at_level(logging.WARNING, logger="services.receiver"):
        async with running(settings, link=NoBroker) as receiver:
            for _ in range(3):
                response = await receiver.client.post(
                    "/v1/uploads", content=upload, headers=headers
                )
                assert response.status_code == 401
    unconfigured = [r.getMessage() for r in caplog.records if "is empty" in r.getMessage()]
    assert unconfigured == [
        "KITESTREAM_TEST_SUITES is empty: every request to /v1/uploads is refused (401)"
    ]
