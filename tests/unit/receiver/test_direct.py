"""The Buildkite webhook is served straight from ASGI (``Endpoint.direct``): the same
answers, logs and metrics as through starlette's stack, and an unexpected error is a
500 JSON error that is counted and logged."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.responses import Response

from services.receiver import buildkite_webhook, routes
from services.receiver.app import create_app
from services.receiver.endpoints import AppContext, Endpoint, Incoming
from services.receiver.settings import ReceiverSettings
from services.receiver.signature import sign
from tests.unit.receiver.clients import TOKEN, NoBroker, unit_settings
from tests.unit.receiver.payloads import build_webhook

PATH = buildkite_webhook.PATH


@asynccontextmanager
async def client(
    settings: ReceiverSettings, endpoints: Sequence[Endpoint], *, raise_errors: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, endpoints=endpoints, link=NoBroker)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
            yield http


def _through_starlette() -> list[Endpoint]:
    return [dataclasses.replace(e, direct=None) for e in routes.ENDPOINTS]


async def _exchange(http: httpx.AsyncClient) -> list[tuple[int, object]]:
    body = orjson.dumps(build_webhook())
    now = int(time.time())
    json = {"content-type": "application/json", "x-buildkite-event": "build.finished"}
    sent = [
        {**json, "x-buildkite-token": TOKEN},
        {**json, "X-Buildkite-Signature": sign(TOKEN, now, body)},  # any case on the wire
        {**json, "x-buildkite-token": "wrong"},
        {**json, "x-buildkite-signature": sign("not-ours", now, body)},
        {"content-type": "text/plain", "x-buildkite-token": TOKEN},
        {**json, "x-buildkite-token": TOKEN, "content-length": "x"},
    ]
    answers: list[tuple[int, object]] = []
    for headers in sent:
        response = await http.post(PATH, content=body, headers=headers)
        answers.append((response.status_code, response.json()))
    for method in ("GET", "PUT"):
        response = await http.request(method, PATH)
        answers.append((response.status_code, response.json()))
    return answers


def _metrics(text: str) -> list[str]:
    """The request and auth-failure counts (times and the spool vary between runs)."""
    keep = re.compile(r"^kitestream_receiver_(requests|auth_failures|events|messages)_total\{")
    return sorted(line for line in text.splitlines() if keep.match(line))


async def test_the_direct_route_answers_counts_and_logs_as_the_starlette_route(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runs = []
    for name, endpoints in (("direct", routes.ENDPOINTS), ("starlette", _through_starlette())):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            async with client(unit_settings(tmp_path / name), endpoints) as http:
                answers = await _exchange(http)
                metrics = _metrics((await http.get("/metrics")).text)
        logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
        runs.append((answers, metrics, logged))
    (direct, starlette) = runs
    assert direct == starlette
    answers, metrics, logged = direct
    assert [status for status, _ in answers] == [202, 202, 401, 401, 415, 400, 405, 405]
    assert any('status="202"' in line and 'route="/webhooks/buildkite"' in line for line in metrics)
    assert any('reason="bad_signature"' in line for line in metrics)
    assert len(logged) == 4  # one line per refused request


async def _fails(_request: Incoming, _context: AppContext) -> Response:
    raise RuntimeError("a bug")


async def test_an_unexpected_error_on_a_direct_route_is_a_counted_and_logged_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failing = dataclasses.replace(buildkite_webhook.ENDPOINT, handler=_fails, direct=_fails)
    endpoints = [failing, *routes.ENDPOINTS[1:]]
    with caplog.at_level(logging.ERROR):
        async with client(unit_settings(tmp_path / "spool"), endpoints, raise_errors=False) as http:
            response = await http.post(PATH, content=b"{}", headers={"x-buildkite-token": TOKEN})
            metrics = (await http.get("/metrics")).text
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "detail": "unexpected error; see the receiver's log",
    }
    assert (
        'kitestream_receiver_requests_total{method="POST",route="/webhooks/buildkite",'
        'status="500"} 1.0' in metrics
    )
    assert any(
        "unexpected error on POST /webhooks/buildkite" in r.getMessage() for r in caplog.records
    )


def test_only_the_webhook_post_is_served_directly(tmp_path: Path) -> None:
    app = create_app(unit_settings(tmp_path / "spool"), link=NoBroker)
    post = {"type": "http", "method": "POST", "path": PATH, "root_path": ""}
    assert app.direct.match(post) is not None
    assert app.direct.match({**post, "method": "GET"}) is None  # starlette answers 405
    assert app.direct.match({**post, "path": "/webhooks/pagerduty"}) is None
    assert app.direct.match({**post, "root_path": "/kitestream"}) is None
    assert app.direct.match({"type": "lifespan"}) is None
    starlette_only = create_app(
        unit_settings(tmp_path / "spool2"), endpoints=_through_starlette(), link=NoBroker
    )
    assert starlette_only.direct.match(post) is None
