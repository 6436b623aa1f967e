"""The receiver's HTTP contract without a broker (:class:`NoBroker` below the app): a
refused request answers its JSON error, logs one line and writes nothing; unknown
routes answer JSON too; the OpenAPI document is served as checked in. Integration
tests prove the same app on Kafka."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.receiver.routes import CHECKED_IN
from tests.unit.receiver.clients import TOKEN, NoBroker, Receiver, running, unit_settings
from tests.unit.receiver.payloads import build_webhook


async def test_refused_requests_answer_json_errors_and_write_nothing(tmp_path: Path) -> None:
    settings = unit_settings(
        tmp_path / "spool", max_body_bytes=20_000, kafka_max_message_bytes=12_000
    )
    good = build_webhook()
    big_meta = build_webhook()
    big_meta["build"]["meta_data"] = {"blob": "x" * 9_000}
    async with running(settings, link=NoBroker) as receiver:
        # Read the clock once the receiver is up, with margin for a slow machine: the
        # exact edges of the tolerance are unit-tested with an explicit clock.
        now = int(time.time())
        cases: list[tuple[int, str, Any]] = [
            (401, "unauthorized", receiver.post(good, token=None)),
            (401, "unauthorized", receiver.post(good, token="bk-current-token-7f3a9")),
            (401, "unauthorized", receiver.post(good, signed_with="not-our-token")),
            (401, "unauthorized", receiver.post(good, signed_with=TOKEN, at=now - 330)),
            (401, "unauthorized", receiver.post(good, signed_with=TOKEN, at=now + 330)),
            (
                401,
                "unauthorized",
                receiver.post(good, headers={"x-buildkite-signature": "timestamp=1,sig"}),
            ),
            (
                401,
                "unauthorized",
                receiver.post(
                    good,
                    headers={"x-buildkite-signature": f"timestamp={now},signature={'0' * 64}"},
                ),
            ),
            (
                415,
                "unsupported_media_type",
                receiver.post(good, headers={"content-type": "text/plain"}),
            ),
            (413, "payload_too_large", receiver.post(None, raw=b"[" + b"1," * 15_000 + b"1]")),
            (413, "payload_too_large", receiver.post(big_meta)),
            (400, "malformed_body", receiver.post(None, raw=b'{"event": "build.finished",')),
            (400, "malformed_body", receiver.post(None, raw=b"[" * 100 + b"]" * 100)),
            (400, "malformed_body", receiver.post(None, raw=b"\xff\xfe")),
            (422, "invalid_payload", receiver.post({"build": {"id": "b"}}, event="build.finished")),
            (422, "invalid_payload", receiver.post({"no": "event"})),
            (422, "invalid_payload", receiver.post([1, 2], event="build.finished")),
        ]
        for status, code, request in cases:
            response = await request
            assert response.status_code == status, (status, response.text)
            assert response.json()["error"] == code
            assert response.json()["detail"]
        # A tampered body: signed for one payload, another one sent.
        signed = await receiver.post(good, signed_with=TOKEN)
        assert signed.status_code == 202
        tampered_sig = signed.request.headers["x-buildkite-signature"]
        tampered = build_webhook(state="failed")
        response = await receiver.post(tampered, headers={"x-buildkite-signature": tampered_sig})
        assert response.status_code == 401

        assert receiver.context.delivery.spool.pending_records == 1  # the signed one


async def test_each_refused_request_logs_one_line_with_its_reason(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="services.receiver"):
        await receiver.post(build_webhook(), token="wrong")
        await receiver.post(build_webhook(), headers={"content-type": "text/plain"})
        await receiver.post(build_webhook())  # accepted: no line at INFO
    refused = [r for r in caplog.records if r.getMessage().startswith("rejected ")]
    assert [(r.__dict__["status"], r.__dict__["reason"]) for r in refused] == [
        (401, "bad_token"),
        (415, "unsupported_media_type"),
    ]
    assert all(r.__dict__["route"] == "/webhooks/buildkite" for r in refused)


async def test_openapi_document_is_served_as_checked_in(receiver: Receiver) -> None:
    served = await receiver.client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == orjson.loads(CHECKED_IN.read_bytes())


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("PUT", "/healthz", 405)]
)
async def test_unknown_routes_and_methods_answer_json_errors(
    receiver: Receiver, method: str, path: str, status: int
) -> None:
    response = await receiver.client.request(method, path)
    assert response.status_code == status
    assert set(response.json()) == {"error", "detail"}
