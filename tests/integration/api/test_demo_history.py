"""``make run``'s story, seen through the query API: what ``kitestream demo-events`` posts
is in ``/api/v1`` seconds later.

Receiver, flakiness, correlator, store and API run as separate processes (as
``kitestream demo`` starts them) on topics of their own and an SQLite store file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from services.common.topics import Topics
from services.demo import DEMO_ENV
from services.demo_events import add_arguments, story
from tests.integration.api.process import api_process, started
from tests.integration.test_end_to_end import system, wait_until_ready
from tests.ports import free_port


async def _until(
    api: httpx.AsyncClient, path: str, found: Any, timeout_s: float = 90
) -> dict[str, Any]:
    """Poll ``path`` until ``found(body)`` holds; the body then."""
    async with asyncio.timeout(timeout_s):
        while True:
            response = await api.get(path)
            if response.status_code == 200 and found(body := response.json()):
                return dict(body)
            await asyncio.sleep(0.3)


async def test_the_demo_story_is_visible_through_the_api(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **DEMO_ENV,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_SPOOL_DIR": str(tmp_path / "spool"),
        "KITESTREAM_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "KITESTREAM_METRICS_PORT": "0",
        "KITESTREAM_INSTANCE_ID": "api-e2e",
        "KITESTREAM_LOG_FORMAT": "json",
    }
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    with contextlib.ExitStack() as stack:
        procs = stack.enter_context(system(env, port, tmp_path))
        stack.enter_context(started(["store"], env, tmp_path / "store.log"))
        base = stack.enter_context(api_process(env, free_port(), tmp_path / "api.log"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as receiver:
            await wait_until_ready(receiver, procs)
            posted = time.monotonic()
            for label, path, headers, body in story(datetime.now(UTC), args):
                response = await receiver.post(path, content=body, headers=headers)
                assert response.status_code == 202, (label, response.text)
        async with httpx.AsyncClient(base_url=base) as api:
            builds = await _until(
                api, "/api/v1/pipelines/payments-api/builds", lambda b: b["items"]
            )
            deploys = await _until(
                api, "/api/v1/deploys?service=payments-api", lambda b: b["items"]
            )
            incidents = await _until(
                api, "/api/v1/incidents?service=payments-api", lambda b: b["items"]
            )
            tests = await _until(api, "/api/v1/tests?q=test_checkout_total", lambda b: b["items"])
            flaky = await _until(api, "/api/v1/tests/flaky", lambda b: b["items"])
            alerts = await _until(
                api,
                "/api/v1/alerts",
                lambda b: (
                    {"failure_deploy_incident", "flaky_test"} <= {a["kind"] for a in b["items"]}
                ),
            )
            seen_after_s = time.monotonic() - posted
            service = (await api.get("/api/v1/services/payments-api")).json()
    build = builds["items"][0]
    assert (build["state"], build["branch"]) == ("failed", "main")
    assert deploys["items"][0]["state"] == "succeeded"
    assert incidents["items"][0]["title"] == "Checkout error rate above 5%"
    assert incidents["items"][0]["service"] == "PDEMO01"  # PagerDuty's id, mapped by the catalog
    assert [t["name"] for t in tests["items"]] == ["test_checkout_total"]
    assert "test_checkout_total" in flaky["items"][0]["test_key"]
    correlated = next(a for a in alerts["items"] if a["kind"] == "failure_deploy_incident")
    assert correlated["service"] == "payments-api"
    assert [b["id"] for b in service["builds"]] == [build["id"]]
    assert service["alerts"]
    # Not an assertion on speed: the figure is printed for the report (pytest -s).
    print(f"demo story visible through the API {seen_after_s:.1f} s after posting")
