"""30 % of the webhooks lost, then reconcile: the topics hold what the complete stream
would have, each event once, a second pass publishes nothing, and the flakiness
processor flags the flaky step as it would from the complete stream.

The 70 % go through the real receiver (``kitestream receiver``, token mode); the REST
side is the local API with small pages, a deep-page limit, a 502 and a 429 on the way.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.common.topics import Topic, Topics
from services.flakiness.execution import StepSubject
from services.flakiness.messages import alert_id
from services.receiver.events import normalise
from tests.integration.flakiness.test_processor import processor, read_alerts
from tests.integration.reconcile.buildkite_api import BuildkiteApi, running_api
from tests.integration.reconcile.commands import command_env, read_finished, run_command
from tests.kafka_io import committed_reader
from tests.ports import free_port
from tests.unit.reconcile.history import History, generate, webhooks

HOOK_TOKEN = "hook-token-for-tests"
PIPELINES = ["web", "api", "ledger"]


@pytest.fixture
def receiver_env() -> dict[str, str]:
    return {"KITESTREAM_BUILDKITE_TOKENS": HOOK_TOKEN}


@pytest.fixture
def history() -> History:
    start = datetime.now(UTC) - timedelta(hours=3)
    return generate(
        PIPELINES, start=start, builds=16, every=timedelta(minutes=6), flaky=frozenset({"api"})
    )


@pytest.fixture
def local_api(history: History) -> Iterator[tuple[BuildkiteApi, str]]:
    api = BuildkiteApi(history.builds, max_page=3, faults=["500", "429"])
    with running_api(api) as url:
        yield api, url


def all_webhooks(history: History) -> list[tuple[str, dict[str, Any]]]:
    return [hook for build in history.builds for hook in webhooks(build)]


def event_id(name: str, body: dict[str, Any]) -> str:
    routed = normalise(name, body, datetime.now(UTC))
    assert routed is not None
    return routed.event_id


async def deliver(url: str, hooks: list[tuple[str, dict[str, Any]]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for name, body in hooks:
            response = await client.post(
                "/webhooks/buildkite",
                json=body,
                headers={"X-Buildkite-Event": name, "X-Buildkite-Token": HOOK_TOKEN},
            )
            assert response.status_code == 202, response.text


async def scrape(port: int, until: str, timeout_s: float = 120) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                if until in text:
                    return text
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, f"no {until!r} on /metrics"
            await asyncio.sleep(0.3)


async def test_reconcile_fills_exactly_the_lost_webhooks_and_then_nothing(
    kafka_bootstrap: str,
    kafka_topics: Topics,
    receiver_url: str,
    history: History,
    local_api: tuple[BuildkiteApi, str],
) -> None:
    hooks = all_webhooks(history)
    rng = random.Random(14)  # noqa: S311 - a reproducible sample, not a secret
    kept = [hook for hook in hooks if rng.random() >= 0.3]
    lost = {event_id(*hook) for hook in hooks} - {event_id(*hook) for hook in kept}
    assert 0.2 * len(hooks) < len(lost) < 0.4 * len(hooks)
    await deliver(receiver_url, kept)

    api, url = local_api
    port = free_port()
    env = command_env(
        kafka_bootstrap,
        kafka_topics,
        url,
        KITESTREAM_RECONCILE_INTERVAL_S=str(6 * 3600),
        KITESTREAM_RECONCILE_PAGE_SIZE="5",
        KITESTREAM_METRICS_PORT=str(port),
    )
    # the long-running service: its first pass, counted on /metrics, then SIGTERM
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services", "reconcile", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        scraped = await scrape(port, 'kitestream_reconcile_passes_total{outcome="ok"} 1.0')
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert {s.status for s in api.served} >= {200, 400, 429, 502}  # pages, deep page, limits

    published = await read_finished(kafka_bootstrap, kafka_topics)
    complete = Counter(event_id(*hook) for hook in hooks)
    assert Counter(p.event_id for p in published) == complete  # everything, each once
    assert {p.event_id for p in published if p.value.get("source") == "rest"} == lost
    assert {p.event_id for p in published if "source" not in p.value} == set(complete) - lost
    missing = Counter(p.value["event"] for p in published if p.value.get("source") == "rest")
    assert (
        f'kitestream_reconcile_missing_total{{kind="build"}} {float(missing["build.finished"])}'
        in scraped
    )
    assert (
        f'kitestream_reconcile_missing_total{{kind="job"}} {float(missing["job.finished"])}'
        in scraped
    )
    for pipeline in PIPELINES:
        assert f"pipeline {pipeline}: " in stderr.decode()  # logged per pipeline

    # cron mode, a second time: nothing new
    again = await run_command(env, "reconcile", "--once")
    assert again.returncode == 0, again.stderr
    assert len(await read_finished(kafka_bootstrap, kafka_topics)) == len(published)
    assert "missing from Kafka" not in again.stderr

    # and the processors see the complete stream: the flaky step is flagged, nothing else
    expected = {alert_id(StepSubject("api", "unit-tests"), "flaky_test", 1)}
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        with processor(kafka_bootstrap, kafka_topics, "reconciled"):
            alerts = await read_alerts(reader, [], len(expected), timeout_s=120)
            await read_alerts(reader, alerts, len(expected) + 1, timeout_s=3)
    assert {str(a["alert_id"]) for a in alerts} == expected
