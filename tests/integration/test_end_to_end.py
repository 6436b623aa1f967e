"""The whole system, as `make run` starts it, turns the demo story into both alerts.

Receiver, flakiness and correlator run as separate processes (as in production) on
topics of their own; ``kitestream demo-events`` posts a deploy, a failed build, a
PagerDuty incident and two test uploads through the receiver's public endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from services.common.kafka import make_consumer
from services.common.topics import Topic, Topics
from services.demo import DEMO_ENV
from services.demo_events import add_arguments, story
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def system(env: dict[str, str], port: int, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    commands = [["receiver", "--port", str(port)], ["flakiness"], ["correlator"]]
    procs = []
    try:
        for argv in commands:
            with (logs / f"{argv[0]}.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services", *argv],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_until_ready(client: httpx.AsyncClient, procs: list[subprocess.Popen[bytes]]) -> None:
    async with asyncio.timeout(60):
        while True:
            assert all(p.poll() is None for p in procs), "a service exited at start"
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.3)


async def alerts_of(
    bootstrap: str, topic: str, kinds: set[str], timeout_s: float
) -> list[dict[str, Any]]:
    """Alerts read from the start of ``topic`` until every kind in ``kinds`` was seen."""
    consumer = make_consumer(bootstrap, topic, group_id=None)
    await consumer.start()
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while not kinds <= {a["kind"] for a in seen}:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    seen.extend(orjson.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return seen


async def test_the_demo_story_gives_one_correlated_alert_and_one_flaky_alert(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **DEMO_ENV,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_SPOOL_DIR": str(tmp_path / "spool"),
        "KITESTREAM_METRICS_PORT": "0",
        "KITESTREAM_INSTANCE_ID": "e2e",
        "KITESTREAM_LOG_FORMAT": "json",
    }
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])  # the demo credentials, as `make run` sets them
    with system(env, port, tmp_path) as procs:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_ready(client, procs)
            for label, path, headers, body in story(datetime.now(UTC), args):
                response = await client.post(path, content=body, headers=headers)
                assert response.status_code == 202, (label, response.text)
        alerts = await alerts_of(
            kafka_bootstrap,
            kafka_topics.name(Topic.ALERTS),
            {"failure_deploy_incident", "flaky_test"},
            timeout_s=90,
        )
    by_kind = {a["kind"]: a for a in alerts}
    correlated = by_kind["failure_deploy_incident"]
    assert correlated["service"] == "payments-api"
    assert correlated["severity"] == "critical"
    assert correlated["incident"]["title"] == "Checkout error rate above 5%"
    assert any(reason.startswith("same commit:") for reason in correlated["reasons"])
    assert any(reason.startswith("same service:") for reason in correlated["reasons"])
    flaky = by_kind["flaky_test"]
    assert "test_checkout_total" in flaky["summary"]
    assert flaky["service"] == "payments-api"  # demo-suite, in the demo catalog
    assert len([a for a in alerts if a["kind"] == "failure_deploy_incident"]) == 1
