"""The flakiness processor on real Kafka, run as ``python -m services flakiness``.

A stream with known flaky tests and steps (``tests/unit/flakiness/stream.py``) must give
exactly the expected alerts: uninterrupted, killed with SIGKILL mid-stream and
restarted, and split across two instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from services.common.topics import Topic, Topics, partition_counts
from tests.kafka_io import committed_reader, produce, read_until
from tests.ports import free_port
from tests.unit.flakiness.stream import (
    CLEAR_AFTER_RUNS,
    Input,
    Project,
    expected_alert_ids,
    project_stream,
)

PROJECTS = [
    Project("pytest", "payments-api"),
    Project("jest", "web"),
    Project("rspec", "ledger"),
    Project("gotest", "api"),
]


def messages(topics: Topics, inputs: list[Input]) -> list[tuple[str, bytes, bytes]]:
    """``inputs`` as (topic, key, value) for :func:`tests.kafka_io.produce`."""
    names = {"results": topics.name(Topic.TEST_RESULTS), "jobs": topics.name(Topic.JOBS)}
    return [(names[item.topic], item.key, item.value) for item in inputs]


def interleaved(projects: list[Project], builds: int = 24) -> list[Input]:
    """The projects' builds side by side, as several pipelines would report them."""
    streams = [project_stream(p, builds=builds) for p in projects]
    out: list[Input] = []
    for n in range(max(len(s) for s in streams)):
        out.extend(s[n] for s in streams if n < len(s))
    return out


@contextlib.contextmanager
def processor(
    bootstrap: str, topics: Topics, instance: str, **settings: str
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        "KITESTREAM_INSTANCE_ID": instance,
        "KITESTREAM_FLAKINESS_CLEAR_AFTER_RUNS": str(CLEAR_AFTER_RUNS),
        "KITESTREAM_LOG_FORMAT": "json",
        "KITESTREAM_METRICS_PORT": "0",
        **settings,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "flakiness"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()


async def read_alerts(
    consumer: AIOKafkaConsumer, seen: list[dict[str, object]], count: int, timeout_s: float
) -> list[dict[str, object]]:
    """Read committed alerts (decoded JSON) into ``seen`` until it holds ``count`` or time
    runs out."""
    return await read_until(consumer, seen, count, timeout_s, lambda r: orjson.loads(r.value))


def ids(alerts: list[dict[str, object]]) -> Counter[object]:
    return Counter(a["alert_id"] for a in alerts)


async def test_a_known_flaky_stream_gives_exactly_the_expected_alerts(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    expected = expected_alert_ids(PROJECTS)
    inputs = interleaved(PROJECTS)
    await produce(kafka_bootstrap, messages(kafka_topics, inputs))
    port = free_port()
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        with processor(kafka_bootstrap, kafka_topics, "solo", KITESTREAM_METRICS_PORT=str(port)):
            alerts = await read_alerts(reader, [], len(expected), timeout_s=120)
            await read_alerts(reader, alerts, len(expected) + 1, timeout_s=3)  # no extra
            async with httpx.AsyncClient(timeout=10) as client:
                scraped = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    assert ids(alerts) == Counter(expected)
    records = 'kitestream_processor_records_total{service="flakiness"}'
    assert f"{records} {float(len(inputs))}" in scraped  # every input, counted once
    changelog = kafka_topics.internal("flakiness-changelog")
    assert (await partition_counts(kafka_bootstrap, [changelog]))[changelog] == 3  # as the inputs
    flagged = [a for a in alerts if a["kind"] == "flaky_test"]
    assert {a["severity"] for a in flagged} == {"warning"}
    assert all(str(a["links"]).count("https://buildkite.com/acme/") >= 1 for a in flagged)
    # the service's own partitioner (services.flakiness.partitioner) places each state
    # where aiokafka's default one would
    states = kafka_topics.name(Topic.FLAKINESS_STATE)
    async with committed_reader(kafka_bootstrap, states) as reader:
        placed = await read_until(reader, [], 10**6, 5, lambda r: (r.key, r.partition))
    everywhere = list(range((await partition_counts(kafka_bootstrap, [states]))[states]))
    assert len({partition for _, partition in placed}) > 1
    for key, partition in placed:
        assert partition == DefaultPartitioner()(key, everywhere, everywhere), key


async def test_sigkill_mid_stream_and_restart_gives_the_same_alerts_without_duplicates(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    expected = expected_alert_ids(PROJECTS)
    await produce(kafka_bootstrap, messages(kafka_topics, interleaved(PROJECTS)))
    slow = {"KITESTREAM_FLAKINESS_MAX_BATCH": "5"}
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        alerts: list[dict[str, object]] = []
        for kill_after in (2, 7):
            with processor(kafka_bootstrap, kafka_topics, "crashy", **slow) as proc:
                await read_alerts(reader, alerts, kill_after, timeout_s=120)
                proc.send_signal(signal.SIGKILL)
            assert kill_after <= len(alerts) < len(expected), "the kill must land mid-stream"
        with processor(kafka_bootstrap, kafka_topics, "crashy"):
            await read_alerts(reader, alerts, len(expected), timeout_s=120)
            await read_alerts(reader, alerts, len(expected) + 1, timeout_s=3)
    assert ids(alerts) == Counter(expected)


async def test_two_instances_give_the_same_alerts_as_one(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    expected = expected_alert_ids(PROJECTS)
    inputs = interleaved(PROJECTS)
    half = len(inputs) // 2
    await produce(kafka_bootstrap, messages(kafka_topics, inputs[:half]))
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        alerts: list[dict[str, object]] = []
        with processor(kafka_bootstrap, kafka_topics, "first", KITESTREAM_FLAKINESS_MAX_BATCH="20"):
            await read_alerts(reader, alerts, 1, timeout_s=120)
            # the second joins mid-stream: partitions move and are restored from the changelog
            with processor(kafka_bootstrap, kafka_topics, "second"):
                await produce(kafka_bootstrap, messages(kafka_topics, inputs[half:]))
                await read_alerts(reader, alerts, len(expected), timeout_s=120)
                await read_alerts(reader, alerts, len(expected) + 1, timeout_s=3)
    assert ids(alerts) == Counter(expected)


async def test_flaky_list_shows_what_is_flagged(kafka_bootstrap: str, kafka_topics: Topics) -> None:
    project = PROJECTS[0]
    await produce(kafka_bootstrap, messages(kafka_topics, project_stream(project, builds=7)))
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        with processor(kafka_bootstrap, kafka_topics, "solo"):
            await read_alerts(reader, [], 2, timeout_s=120)
    flaky = orjson.loads(
        await kitestream(kafka_bootstrap, kafka_topics, "--json", "--suite", "pytest")
    )
    assert sorted(s["name"] for s in flaky) == ["test_rebuild", "test_rerun"]
    assert all(s["status"] == "flaky" and s["evidence"] for s in flaky)
    table = (await kitestream(kafka_bootstrap, kafka_topics)).decode()
    assert table.splitlines()[0].split() == ["SCORE", "STATUS", "SINCE", "TEST", "LAST", "EVIDENCE"]
    assert "payments-api#unit-tests" not in table  # the step is not flaky by build 7
    assert "https://buildkite.com/acme/payments-api/builds/3#payments-api-job-3" in table


async def kitestream(bootstrap: str, topics: Topics, *args: str) -> bytes:
    """Run ``kitestream flaky list ARGS`` and return what it printed."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        "flaky",
        "list",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    return stdout
