"""The ingest endpoints' own steps around the pure readers, through the app (on
:class:`NoBroker`: what they accept lands in the spool): credentials before the body,
the Content-Type before the encoding, gzip bodies inflated within the cap."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.ingest.pagerduty import sign
from tests.unit.ingest.payloads import fixture, gzipped
from tests.unit.receiver.clients import (
    API_TOKENS,
    PAGERDUTY_SECRETS,
    SUITES,
    IngestReceiver,
    NoBroker,
    running,
    unit_settings,
)


def _values(ingest: IngestReceiver) -> list[dict[str, Any]]:
    return [orjson.loads(message.value) for message in ingest.receiver.spooled()]


def _refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    detail: str = response.json()["detail"]
    return detail


# /api/deploys and /api/incidents


async def test_deploy_with_a_wrong_or_missing_bearer_is_401(ingest: IngestReceiver) -> None:
    body = fixture("api/deploy_buildkite_curl.json")
    _refused(await ingest.api("/api/deploys", raw=body, token="api-token-3"), 401, "unauthorized")
    _refused(await ingest.api("/api/deploys", raw=body, token=None), 401, "unauthorized")


async def test_deploy_in_another_content_type_is_415(ingest: IngestReceiver) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await ingest.api("/api/deploys", raw=b"service=s", headers=form)
    _refused(response, 415, "unsupported_media_type")


async def test_gzipped_deploy_is_accepted(ingest: IngestReceiver) -> None:
    body = gzipped(fixture("api/deploy_buildkite_curl.json"))
    response = await ingest.api("/api/deploys", raw=body, headers={"content-encoding": "gzip"})
    assert response.status_code == 202, response.text
    [deploy] = _values(ingest)
    assert deploy["service"] == "payments-api"


async def test_incident_with_a_wrong_bearer_is_401(ingest: IngestReceiver) -> None:
    body = fixture("api/incident_generic.json")
    _refused(await ingest.api("/api/incidents", raw=body, token="nope"), 401, "unauthorized")


# /webhooks/pagerduty


async def test_a_non_json_content_type_is_415(ingest: IngestReceiver) -> None:
    signature = sign(b"{}", PAGERDUTY_SECRETS[1])
    response = await ingest.pagerduty(b"{}", signature=signature, content_type="text/plain")
    _refused(response, 415, "unsupported_media_type")


# /v1/uploads


async def test_ruby_collector_gzip_body_without_test_ids_is_accepted(
    ingest: IngestReceiver,
) -> None:
    body = gzipped(fixture("testengine/ruby_collector.json"))
    response = await ingest.upload(
        body, token=SUITES["ledger-rspec"], headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 202, response.text
    assert {m.key for m in ingest.receiver.spooled()} == {b"ledger-rspec"}
    results = _values(ingest)
    assert {r["suite"] for r in results} == {"ledger-rspec"}
    assert [r["test"]["id"] for r in results] == [None, None, None]
    failed = next(r for r in results if r["test"]["name"] == "flags an unbalanced day")
    assert failed["result"] == "failed"
    backtrace = failed["failure_expanded"][0]["backtrace"]
    assert backtrace[0].startswith("./spec/ledger/reconciler_spec.rb:24")
    assert failed["run_env"]["branch"] == "release/2026-08"
    assert len({r["event_id"] for r in results}) == 3


async def test_gzip_header_on_a_body_that_is_not_gzip_is_400(ingest: IngestReceiver) -> None:
    response = await ingest.upload(
        fixture("testengine/ruby_collector.json"),
        token=SUITES["ledger-rspec"],
        headers={"content-encoding": "gzip"},
    )
    assert "not gzip" in _refused(response, 400, "malformed_body")


async def test_a_gzip_bomb_is_413(tmp_path: Path) -> None:
    bomb = gzip.compress(b" " * (8 * 1024 * 1024), compresslevel=9)
    settings = unit_settings(tmp_path / "spool", max_body_bytes=1024 * 1024)
    async with running(settings, link=NoBroker) as receiver:
        response = await IngestReceiver(receiver).upload(bomb, headers={"content-encoding": "gzip"})
        _refused(response, 413, "payload_too_large")


@pytest.mark.parametrize("ctype", ["text/xml", "application/x-www-form-urlencoded", "image/png"])
async def test_other_content_types_are_415(ingest: IngestReceiver, ctype: str) -> None:
    response = await ingest.upload(b"<testsuite/>", content_type=ctype)
    _refused(response, 415, "unsupported_media_type")


async def test_the_content_type_is_checked_before_the_encoding(ingest: IngestReceiver) -> None:
    response = await ingest.upload(
        b"not gzip", content_type="text/csv", headers={"content-encoding": "gzip"}
    )
    _refused(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/api/deploys", f"Bearer {API_TOKENS[0]}"),
        ("/v1/uploads", f'Token token="{SUITES["payments-pytest"]}"'),
    ],
)
async def test_a_request_without_a_content_type_is_415(
    ingest: IngestReceiver, path: str, authorization: str
) -> None:
    response = await ingest.receiver.client.post(
        path,
        content=b'{"service": "s", "state": "started"}',
        headers={"authorization": authorization},
    )
    assert "missing" in _refused(response, 415, "unsupported_media_type")
