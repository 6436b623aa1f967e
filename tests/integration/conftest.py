"""``kitestream receiver`` as a subprocess on a free port, for the integration tests
whose clients need a real HTTP server (the real test collector, schemathesis).

It starts with ``receiver_env``: by default every credential of
``tests/unit/receiver/clients.py`` (Buildkite token, suites, PagerDuty secrets, API
tokens); a module that needs more settings overrides ``receiver_env`` and extends it.

``no_collection_inside_parsing`` keeps the OpenAPI fuzz tests (hypothesis) clear of a
CPython 3.11.7 parser bug.
"""

from __future__ import annotations

import gc
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.topics import Topics
from tests.integration.receiver_process import (
    receiver_process_env,
    start_receiver,
    wait_until_up,
)
from tests.ports import free_port
from tests.unit.receiver.clients import API_TOKENS, PAGERDUTY_SECRETS, SUITES, TOKEN


@pytest.fixture
def receiver_env() -> dict[str, str]:
    """The settings ``receiver_url`` starts the receiver with: every ingest credential."""
    return {
        "KITESTREAM_BUILDKITE_TOKENS": TOKEN,
        "KITESTREAM_TEST_SUITES": ",".join(f"{s}={t}" for s, t in SUITES.items()),
        "KITESTREAM_PAGERDUTY_SECRETS": ",".join(PAGERDUTY_SECRETS),
        "KITESTREAM_API_TOKENS": ",".join(API_TOKENS),
    }


@pytest.fixture
def receiver_url(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path, receiver_env: dict[str, str]
) -> Iterator[str]:
    """The base URL of a running receiver with ``receiver_env`` on the test's topics.

    Stopped with SIGTERM at the end; it must stop within 30 s and its log must hold no
    traceback.
    """
    port = free_port()
    log = tmp_path / "receiver.log"
    env = receiver_process_env(kafka_bootstrap, kafka_topics, tmp_path / "spool", receiver_env)
    proc = start_receiver(env, port, log)
    url = f"http://127.0.0.1:{port}"
    stopped = False
    try:
        wait_until_up(url, proc, log)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
            stopped = True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert stopped, f"the receiver did not stop within 30 s of SIGTERM:\n{log.read_text()}"
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture
def no_collection_inside_parsing() -> Iterator[None]:
    """No cyclic garbage collection while hypothesis generates.

    Hypothesis reads lambdas' source with ``ast.parse``. On CPython before 3.11.8, a
    collection that runs inside ``ast.parse`` and finalizes an object that logs a
    traceback (asyncio's "Future exception was never retrieved", from garbage an earlier
    test left; 3.11 parses source lines again to draw a traceback's carets) breaks the
    outer parse with "SystemError: AST constructor recursion depth mismatch" (gh-106905).
    The leftovers are collected first, and nothing is collected until the end.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
