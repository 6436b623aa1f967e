"""The console's browser tests: one system for the module, as ``make run`` starts it.

:func:`console_url` runs receiver, flakiness, correlator, dispatcher, ``kitestream
store`` (SQLite) and ``kitestream api`` as processes on topics of their own, posts the
``kitestream demo-events`` story to the receiver, adds a test whose name is markup
(straight onto ``flakiness.state``), and waits until the API answers with all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from selenium.webdriver import Chrome

from schemas.flakiness import Evidence, FlakinessState
from services.common.topics import Topics, create_topics, delete_topics, topic_specs
from services.demo import DEMO_ENV
from services.demo_events import add_arguments, story
from tests.integration.api.process import api_process, started
from tests.integration.console.browser import chromium
from tests.integration.store.tables_io import produce
from tests.integration.test_end_to_end import system
from tests.ports import free_port

SCRIPT_NAME = "<script>alert(1)</script>"
SCRIPT_KEY = f"evil-suite/tests.evil/{SCRIPT_NAME}/tests/evil.py"


def _script_state(now: datetime) -> FlakinessState:
    evidence = Evidence(
        kind="same_commit",
        at=now,
        commit="deadbeef",
        build_ids=["b-evil"],
        urls=["https://buildkite.com/acme/evil/builds/1"],
        detail="<img src=x onerror=alert(2)>",
    )
    return FlakinessState(
        key=SCRIPT_KEY,
        kind="test",
        suite="evil-suite",
        scope="tests.evil",
        name=SCRIPT_NAME,
        file_name="tests/evil.py",
        runs=4,
        failures=2,
        flips=2,
        score=0.2,
        status="flaky",
        episodes=1,
        since=now,
        last_evidence_at=now,
        evidence=[evidence],
        updated_at=now,
    )


def _until(api: httpx.Client, path: str, found: Any, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            response = api.get(path)
            if response.status_code == 200 and found(response.json()):
                return
        assert time.monotonic() < deadline, f"{path}: not there after {timeout_s} s"
        time.sleep(0.3)


def _wait_ready(url: str, procs: list[Any]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert all(p.poll() is None for p in procs), "a service exited at start"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        assert time.monotonic() < deadline, "the receiver never got ready"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def console_url(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a console showing the demo story and a markup-named test."""
    tmp = tmp_path_factory.mktemp("console")
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(create_topics(kafka_bootstrap, topic_specs(topics), partitions=3))
    port = free_port()
    env = {
        **os.environ,
        **DEMO_ENV,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        "KITESTREAM_SPOOL_DIR": str(tmp / "spool"),
        "KITESTREAM_DATABASE_URL": f"sqlite:///{tmp / 'store.db'}",
        "KITESTREAM_METRICS_PORT": "0",
        "KITESTREAM_INSTANCE_ID": "console-e2e",
        "KITESTREAM_LOG_FORMAT": "json",
    }
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    try:
        with contextlib.ExitStack() as stack:
            procs = stack.enter_context(system(env, port, tmp))
            stack.enter_context(started(["dispatcher"], env, tmp / "dispatcher.log"))
            stack.enter_context(started(["store"], env, tmp / "store.log"))
            base = stack.enter_context(api_process(env, free_port(), tmp / "api.log"))
            receiver = f"http://127.0.0.1:{port}"
            _wait_ready(receiver, procs)
            now = datetime.now(UTC)
            for label, path, headers, body in story(now, args):
                response = httpx.post(f"{receiver}{path}", content=body, headers=headers)
                assert response.status_code == 202, (label, response.text)
            asyncio.run(
                produce(
                    kafka_bootstrap,
                    topics,
                    [("flakiness.state", SCRIPT_KEY.encode(), _script_state(now))],
                )
            )
            with httpx.Client(base_url=base) as api:
                _until(api, "/api/v1/tests/flaky", lambda b: len(b["items"]) >= 2)
                _until(
                    api,
                    "/api/v1/alerts?kind=failure_deploy_incident",
                    lambda b: b["items"],
                )
                alert_id = api.get("/api/v1/alerts?kind=failure_deploy_incident").json()
                alert_id = alert_id["items"][0]["alert_id"]
                _until(api, f"/api/v1/alerts/{alert_id}", lambda b: b["deliveries"])
            yield base
    finally:
        asyncio.run(delete_topics(kafka_bootstrap, topics.prefix))


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    with chromium() as driver:
        yield driver
