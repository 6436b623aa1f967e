"""How every ``kitestream`` command stops when it cannot run: one clear line, no traceback.

A bad setting exits 2 with one line naming the variable (never its value, never
pydantic's dump); a failure once running (Kafka away, inputs not co-partitioned)
exits 1 with one line saying what failed. Each command runs as a user runs it, in a
process of its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from services.common.topics import Topic, Topics, TopicSpec, create_topics, delete_topics

SECRET = "s3cret-value-never-shown"

# command, the bad variable, its value, and what else the command needs to get that far
BAD_SETTINGS: list[tuple[list[str], str, str, dict[str, str]]] = [
    (["receiver"], "KITESTREAM_TEST_SUITES", SECRET, {"KITESTREAM_BUILDKITE_TOKENS": SECRET}),
    (["receiver"], "KITESTREAM_BUILDKITE_TOKENS", " , ", {}),
    (["flakiness"], "KITESTREAM_FLAKINESS_WINDOW_SIZE", "1", {}),
    (["flakiness"], "KITESTREAM_FLAKINESS_MAX_BATCH", SECRET, {}),
    (["correlator"], "KITESTREAM_CORRELATOR_RETENTION_HOURS", "1", {}),
    (["correlator"], "KITESTREAM_METRICS_PORT", SECRET, {}),
    (["dispatcher"], "KITESTREAM_ROUTES", "", {}),
    (["dispatcher"], "KITESTREAM_DISPATCHER_MAX_ATTEMPTS", SECRET, {"KITESTREAM_ROUTES": "r.yaml"}),
    (["alerts", "tail"], "KITESTREAM_METRICS_PORT", SECRET, {}),
    (["flaky", "list"], "KITESTREAM_METRICS_PORT", "-1", {}),
    (["topics", "create"], "KITESTREAM_METRICS_PORT", SECRET, {}),
]


def kitestream(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KITESTREAM_") and k != "KAFKA_BOOTSTRAP_SERVERS"
    }
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        env={
            **clean,
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "KITESTREAM_LOG_FORMAT": "text",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("command", "name", "value", "needs"),
    BAD_SETTINGS,
    ids=[f"{' '.join(c)}-{n}" for c, n, _, _ in BAD_SETTINGS],
)
def test_a_bad_setting_exits_2_with_one_line_naming_the_variable(
    command: list[str], name: str, value: str, needs: dict[str, str]
) -> None:
    env = {**needs}
    if value:
        env[name] = value
    done = kitestream(command, env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert name in lines[0]
    assert "cannot start" in lines[0]
    assert SECRET not in done.stderr + done.stdout
    assert "validation error" not in done.stderr  # pydantic's own dump
    assert "Traceback" not in done.stderr


# processor, and two of its inputs given different partition counts
UNEVEN_INPUTS = [
    ("flakiness", Topic.TEST_RESULTS, Topic.JOBS),
    ("correlator", Topic.BUILDS, Topic.DEPLOYS),
]


@pytest.mark.parametrize(("command", "wide", "narrow"), UNEVEN_INPUTS)
async def test_a_processor_failing_while_it_runs_exits_1_with_one_line(
    kafka_bootstrap: str, command: str, wide: Topic, narrow: Topic
) -> None:
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await create_topics(kafka_bootstrap, [TopicSpec(topics.name(wide))], partitions=2)
    await create_topics(kafka_bootstrap, [TopicSpec(topics.name(narrow))], partitions=1)
    try:
        done = await asyncio.to_thread(
            kitestream,
            [command],
            {
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "KITESTREAM_TOPIC_PREFIX": topics.prefix,
                "KITESTREAM_METRICS_PORT": "0",
            },
        )
    finally:
        await delete_topics(kafka_bootstrap, topics.prefix)
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert done.returncode == 1, done.stderr
    assert len(errors) == 1, done.stderr
    assert f"{command}" in errors[0]
    assert "input topics must have equal partition counts" in errors[0]
    assert "Traceback" not in done.stderr
    assert "ExceptionGroup" not in done.stderr


@pytest.mark.parametrize("command", ["flakiness", "correlator", "dispatcher"])
def test_a_processor_without_kafka_exits_1_with_one_line(command: str, tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("sinks:\n  log: {type: log}\nroutes:\n  - to: [log]\n")
    done = kitestream(
        command.split(), {"KITESTREAM_ROUTES": str(routes), "KITESTREAM_METRICS_PORT": "0"}
    )
    lines = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert "KafkaConnectionError" in lines[0]
    assert "Traceback" not in done.stderr
