"""No input gives a 5xx: schemathesis generates requests from the served OpenAPI document
(valid and invalid ones, with and without a valid token) against a running receiver."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from services.common.topics import Topics
from tests.integration.receiver.conftest import TOKEN, free_port


@pytest.fixture
def receiver_url(kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "receiver.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_BUILDKITE_TOKENS": TOKEN,
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


async def test_no_generated_request_gets_a_5xx(receiver_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{receiver_url}/openapi.json")
    statuses: Counter[int] = Counter()
    cases = schema.as_strategy(GenerationMode.POSITIVE) | schema.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, with_token=st.booleans())
    def check(case: Any, with_token: bool) -> None:  # a schemathesis.Case
        headers = {"X-Buildkite-Token": TOKEN} if with_token else None
        response = case.call(base_url=receiver_url, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, case.as_curl_command()

    await asyncio.to_thread(check)
    assert sum(statuses.values()) >= 100, statuses
    # Some requests got through every check into Kafka, some were refused along the way.
    assert statuses[202], statuses
    assert statuses[401], statuses
    assert statuses[422], statuses
