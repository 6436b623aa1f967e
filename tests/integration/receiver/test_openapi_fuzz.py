"""No input gives a 5xx: schemathesis generates requests from the served OpenAPI document
(valid and invalid ones, with and without valid credentials) against a running receiver,
for every endpoint: Buildkite and PagerDuty webhooks, test uploads, deploys, incidents."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from services.common.topics import Topics
from services.ingest.pagerduty import sign
from tests.integration.receiver.conftest import TOKEN
from tests.ports import free_port

SUITE_TOKEN = "fuzz-suite-token"
PAGERDUTY_SECRET = "fuzz-pagerduty-secret"
API_TOKEN = "fuzz-api-token"
CREDENTIALS = {
    "/webhooks/buildkite": {"X-Buildkite-Token": TOKEN},
    "/v1/uploads": {"Authorization": f'Token token="{SUITE_TOKEN}"'},
    "/api/deploys": {"Authorization": f"Bearer {API_TOKEN}"},
    "/api/incidents": {"Authorization": f"Bearer {API_TOKEN}"},
}


@pytest.fixture
def receiver_url(kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "receiver.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_BUILDKITE_TOKENS": TOKEN,
        "KITESTREAM_TEST_SUITES": f"fuzz-suite={SUITE_TOKEN}",
        "KITESTREAM_PAGERDUTY_SECRETS": PAGERDUTY_SECRET,
        "KITESTREAM_API_TOKENS": API_TOKEN,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_SPOOL_DIR": str(tmp_path / "spool"),
        "KITESTREAM_MAX_BODY_BYTES": "200000",
        "KITESTREAM_LOG_FORMAT": "json",
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "receiver", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


class PagerDutySignature(requests.auth.AuthBase):
    """Signs the body exactly as sent, as PagerDuty does (``v1=`` HMAC-SHA256)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        raw = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
        request.headers["X-PagerDuty-Signature"] = sign(raw, PAGERDUTY_SECRET)
        return request


def _credentials(path: str) -> dict[str, Any]:
    if path == "/webhooks/pagerduty":
        return {"auth": PagerDutySignature()}
    return {"headers": CREDENTIALS[path]} if path in CREDENTIALS else {}


def _fuzz(
    operation: Any, base_url: str, credentials: dict[str, Any], examples: int
) -> Counter[int]:
    """Send ``examples`` generated requests (valid and invalid) for one operation."""
    statuses: Counter[int] = Counter()
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: Any) -> None:  # a schemathesis.Case
        response = case.call(base_url=base_url, **credentials)
        statuses[response.status_code] += 1
        assert response.status_code < 500, case.as_curl_command()

    check()
    return statuses


async def test_no_generated_request_gets_a_5xx(receiver_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{receiver_url}/openapi.json")
    by_path: defaultdict[str, Counter[int]] = defaultdict(Counter)
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        path = operation.path
        for credentials, examples in ((_credentials(path), 50), ({}, 10)):
            by_path[path] += await asyncio.to_thread(
                _fuzz, operation, receiver_url, credentials, examples
            )
    statuses = sum(by_path.values(), Counter[int]())
    assert statuses.total() >= 300, statuses
    # On every endpoint that takes events, some requests got through every check into
    # Kafka and some were refused along the way.
    for path in (*CREDENTIALS, "/webhooks/pagerduty"):
        assert by_path[path][202], (path, dict(by_path))
        assert by_path[path][401], (path, dict(by_path))
    assert statuses[422], statuses
