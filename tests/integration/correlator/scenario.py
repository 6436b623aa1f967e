"""Contract events for correlator scenarios, and running the correlator as a process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from schemas.alerts import Alert
from schemas.base import Message
from schemas.buildkite import Build, BuildEvent, Pipeline
from schemas.flakiness import TestRun
from schemas.operations import DeployEvent, IncidentEvent
from services.common.topics import Topic, Topics
from tests.kafka_io import read_until

# Event times: a little in the past, so that they are never ahead of when they are read.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def failed_build(
    pipeline: str,
    build_id: str,
    minute: float,
    *,
    state: str = "failed",
    commit: str = "c0ffee1234",
) -> BuildEvent:
    return BuildEvent(
        event_id=f"evt-{build_id}",
        event="build.finished",
        received_at=at(minute),
        pipeline=Pipeline(slug=pipeline, default_branch="main"),
        build=Build(
            id=build_id,
            number=zlib.crc32(build_id.encode()) % 10_000,
            state=state,
            branch="main",
            commit=commit,
            web_url=f"https://buildkite.com/acme/{pipeline}/builds/1",
            started_at=at(minute - 5),
            finished_at=at(minute),
        ),
        payload={},
    )


def deployed(
    service: str, deploy_id: str, minute: float, commit: str = "c0ffee1234"
) -> DeployEvent:
    return DeployEvent(
        event_id=f"evt-{deploy_id}",
        deploy_id=deploy_id,
        service=service,
        commit=commit,
        state="succeeded",
        started_at=at(minute),
        finished_at=at(minute + 3),
        url=f"https://deploys.example.com/{deploy_id}",
        received_at=at(minute + 3),
    )


def incident(pagerduty_id: str, incident_id: str, minute: float) -> IncidentEvent:
    return IncidentEvent(
        event_id=f"evt-{incident_id}",
        event="incident.triggered",
        incident_id=incident_id,
        service=pagerduty_id,
        title=f"Errors on {pagerduty_id}",
        status="triggered",
        opened_at=at(minute),
        source="pagerduty",
        url=f"https://acme.pagerduty.com/incidents/{incident_id}",
        received_at=at(minute),
    )


def run_summary(pipeline: str, build_id: str, failed: list[str], flaky: list[str]) -> TestRun:
    return TestRun(
        event_id=f"run-{build_id}",
        pipeline=pipeline,
        build_id=build_id,
        suite=f"{pipeline}-suite",
        executions=len(failed) + 10,
        failed_tests=failed,
        known_flaky_failed=flaky,
        at=at(0),
    )


def topic_of(event: Message) -> Topic:
    if isinstance(event, BuildEvent):
        return Topic.BUILDS
    if isinstance(event, DeployEvent):
        return Topic.DEPLOYS
    if isinstance(event, IncidentEvent):
        return Topic.INCIDENTS
    assert isinstance(event, TestRun)
    return Topic.TEST_RUNS


def key_of(event: Message) -> bytes:
    if isinstance(event, BuildEvent):
        return event.pipeline.slug.encode()
    if isinstance(event, DeployEvent | IncidentEvent):
        return event.service.encode()
    assert isinstance(event, TestRun)
    return event.pipeline.encode()


def messages(topics: Topics, events: list[Message]) -> list[tuple[str, bytes, bytes]]:
    """``events`` as (topic, key, value) for :func:`tests.kafka_io.produce`."""
    return [(topics.name(topic_of(e)), key_of(e), e.to_json()) for e in events]


async def read_alerts(
    consumer: AIOKafkaConsumer, seen: list[Alert], count: int, timeout_s: float
) -> list[Alert]:
    """Read committed alerts into ``seen`` until it holds ``count`` or time runs out."""
    return await read_until(
        consumer, seen, count, timeout_s, lambda r: Alert.model_validate_json(r.value)
    )


async def read_values(consumer: AIOKafkaConsumer, count: int, timeout_s: float) -> list[bytes]:
    return await read_until(consumer, [], count, timeout_s, lambda r: bytes(r.value))


@contextlib.contextmanager
def correlator_process(
    bootstrap: str, topics: Topics, catalog: Path, instance: str, log: Path, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m services correlator`` with its settings; killed if still running after."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        "KITESTREAM_CATALOG": str(catalog),
        "KITESTREAM_CORRELATOR_INSTANCE_ID": instance,
        "KITESTREAM_LOG_FORMAT": "json",
        **extra,
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "correlator"], env=env, stdout=out, stderr=out
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def log_lines(log: Path) -> list[dict[str, object]]:
    lines = []
    for raw in log.read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            lines.append(orjson.loads(raw))
    return lines
