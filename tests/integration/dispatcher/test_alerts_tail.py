"""``kitestream alerts tail`` as a user runs it: a process reading the real topic."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from schemas.alerts import Alert
from services.common.topics import Topic, Topics
from tests.integration.dispatcher.kafka_helpers import produce
from tests.unit.dispatcher.factories import make_alert


def tail_env(bootstrap: str, topics: Topics) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
    }


def start_tail(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services", "alerts", "tail", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def test_tail_json_from_the_beginning_prints_one_alert_per_line(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    alerts = [make_alert(n) for n in range(3)]
    await produce(
        kafka_bootstrap,
        kafka_topics.name(Topic.ALERTS),
        [("payments-api", a.to_json()) for a in alerts],
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "services",
            "alerts",
            "tail",
            "--json",
            "--from-beginning",
            "--limit",
            "3",
        ],
        env=tail_env(kafka_bootstrap, kafka_topics),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = done.stdout.decode().splitlines()
    assert [Alert.model_validate_json(line) for line in lines] == alerts


async def test_tail_prints_readable_alerts_and_stops_cleanly_on_sigint(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    alert = make_alert(7)
    await produce(
        kafka_bootstrap, kafka_topics.name(Topic.ALERTS), [("payments-api", alert.to_json())]
    )
    with start_tail(tail_env(kafka_bootstrap, kafka_topics), "--from-beginning") as process:
        try:
            assert process.stdout is not None
            assert process.stderr is not None
            first = await asyncio.to_thread(process.stdout.readline)
            process.send_signal(signal.SIGINT)
            rest = await asyncio.to_thread(process.stdout.read)
            errors = await asyncio.to_thread(process.stderr.read)
            await asyncio.to_thread(process.wait, 30)
        finally:
            if process.poll() is None:
                process.kill()
    output = (first + rest).decode()
    assert process.returncode == 0, errors.decode()[-2000:]
    assert first.decode().startswith("2026-08-01 10:07:00Z  CRITICAL  failure_deploy_incident")
    assert alert.summary in output
    assert f"alert {alert.alert_id}" in output
    assert "\033[" not in output  # no colour when stdout is not a terminal
