"""Generated requests against a running API: no 5xx, and every answer matches the served
OpenAPI document (schemathesis checks status codes, content types and body schemas)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.integration.api.process import api_process
from tests.ports import free_port
from tests.unit.api.rows import (
    T0,
    add_alert,
    add_build,
    add_day,
    add_delivery,
    add_deploy,
    add_evidence,
    add_incident,
    add_pipeline,
    add_test,
    store_engine,
)

TOKEN = "fuzz-read-token"
KEY = "suite/scope/test_name"


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    engine = store_engine(str(tmp_path / "store.db"))
    with engine.begin() as conn:
        add_pipeline(conn, "app")
        add_build(conn, "b1", "app")
        add_test(conn, KEY, status="flaky", score=0.5, flaky_since=T0)
        add_day(conn, KEY, date(2026, 8, 1))
        add_evidence(conn, "e1", KEY, T0)
        add_alert(conn, "a1")
        add_delivery(conn, "a1", "slack")
        add_deploy(conn, "d1", "payments-api")
        add_incident(conn, "i1", "payments-api")
    engine.dispose()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  payments-api:\n    pipelines: [app]\n")
    env = {
        **os.environ,
        "KITESTREAM_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "KITESTREAM_READ_TOKENS": TOKEN,
        "KITESTREAM_CATALOG": str(catalog),
        "KITESTREAM_LOG_FORMAT": "json",
    }
    with api_process(env, free_port(), tmp_path / "api.log") as url:
        yield url


def _fuzz(operation: Any, base_url: str, headers: dict[str, str], examples: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, case.as_curl_command()
        if response.status_code == 200:
            case.validate_response(response)

    check()
    return statuses


@pytest.mark.usefixtures("no_collection_inside_parsing")
async def test_no_generated_request_gets_a_5xx_and_answers_match_the_document(
    api_url: str,
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        statuses += await asyncio.to_thread(
            _fuzz, operation, api_url, {"Authorization": f"Bearer {TOKEN}"}, 12
        )
        statuses += await asyncio.to_thread(_fuzz, operation, api_url, {}, 3)
    assert statuses[200], statuses
    assert statuses[401], statuses
    assert statuses[422], statuses
