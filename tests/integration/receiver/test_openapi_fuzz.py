"""No input gives a 5xx: schemathesis generates requests from the served OpenAPI document
(valid and invalid ones, with and without valid credentials) against a running receiver,
for every endpoint: Buildkite and PagerDuty webhooks, test uploads, deploys, incidents."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from services.ingest.pagerduty import sign
from tests.thorough import length
from tests.unit.receiver.clients import API_TOKENS, PAGERDUTY_SECRETS, SUITES, TOKEN

SUITE_TOKEN = SUITES["payments-pytest"]
PAGERDUTY_SECRET = PAGERDUTY_SECRETS[0]
API_TOKEN = API_TOKENS[0]
CREDENTIALS = {
    "/webhooks/buildkite": {"X-Buildkite-Token": TOKEN},
    "/v1/uploads": {"Authorization": f'Token token="{SUITE_TOKEN}"'},
    "/api/deploys": {"Authorization": f"Bearer {API_TOKEN}"},
    "/api/incidents": {"Authorization": f"Bearer {API_TOKEN}"},
}


@pytest.fixture
def receiver_env(receiver_env: dict[str, str]) -> dict[str, str]:
    """Every credential (tests/integration/conftest.py), and a body cap that keeps the
    generated bodies small."""
    return {**receiver_env, "KITESTREAM_MAX_BODY_BYTES": "200000"}


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


@pytest.mark.usefixtures("no_collection_inside_parsing")
async def test_no_generated_request_gets_a_5xx(receiver_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{receiver_url}/openapi.json")
    by_path: defaultdict[str, Counter[int]] = defaultdict(Counter)
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        path = operation.path
        for credentials, examples in ((_credentials(path), length(50, 25)), ({}, 10)):
            by_path[path] += await asyncio.to_thread(
                _fuzz, operation, receiver_url, credentials, examples
            )
    statuses = sum(by_path.values(), Counter[int]())
    assert statuses.total() >= length(300, 150), statuses
    # On every endpoint that takes events, some requests got through every check into
    # Kafka and some were refused along the way.
    for path in (*CREDENTIALS, "/webhooks/pagerduty"):
        assert by_path[path][202], (path, dict(by_path))
        assert by_path[path][401], (path, dict(by_path))
    assert statuses[422], statuses
