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


def tail_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "services", "alerts", "tail", *args]


def start_tail(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        tail_command(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


async def tail_json(bootstrap: str, topics: Topics, *args: str) -> list[Alert]:
    """Run the command to its end (stdout is a pipe: no following unless asked)."""
    done = await asyncio.to_thread(
        subprocess.run,
        tail_command("--json", *args),
        env=tail_env(bootstrap, topics),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return [Alert.model_validate_json(line) for line in done.stdout.decode().splitlines()]


async def publish(bootstrap: str, topics: Topics, alerts: list[Alert]) -> None:
    entries = [(a.service or a.alert_id, a.to_json()) for a in alerts]
    await produce(bootstrap, topics.name(Topic.ALERTS), entries)


async def test_tail_after_the_alerts_prints_exactly_the_last_two_across_partitions(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    # Six services, so the alerts spread over the topic's three partitions.
    alerts = [make_alert(n, service=f"svc-{n}") for n in range(6)]
    await publish(kafka_bootstrap, kafka_topics, alerts)
    shown = await tail_json(kafka_bootstrap, kafka_topics, "-n", "2", "--no-follow")
    assert shown == alerts[-2:]
    assert await tail_json(kafka_bootstrap, kafka_topics, "--no-follow") == alerts  # -n 10


async def test_the_last_alerts_are_the_newest_created_not_the_last_written(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    late, early = make_alert(9, service="svc-a"), make_alert(1, service="svc-b")
    await publish(kafka_bootstrap, kafka_topics, [late, early])
    shown = await tail_json(kafka_bootstrap, kafka_topics, "-n", "1", "--no-follow")
    assert shown == [late]
    assert await tail_json(kafka_bootstrap, kafka_topics, "-n", "all") == [early, late]


async def test_kind_service_and_since_choose_which_alerts_count(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    failures = [make_alert(n, service=["payments-api", "ledger"][n % 2]) for n in range(6)]
    flaky = [make_alert(n, kind="flaky_test", severity="warning", service=None) for n in (6, 7)]
    await publish(kafka_bootstrap, kafka_topics, failures + flaky)
    await produce(kafka_bootstrap, kafka_topics.name(Topic.ALERTS), [("ledger", b"not an alert")])

    async def run(*args: str) -> list[Alert]:
        return await tail_json(kafka_bootstrap, kafka_topics, *args)

    assert await run("--kind", "flaky_test", "--no-follow") == flaky
    assert await run("--service", "ledger", "-n", "2") == failures[3:6:2]
    both = await run("--service", "ledger", "--kind", "flaky_test", "-n", "all")
    assert both == []
    # make_alert(n) is created at 10:00 + n minutes.
    since = await run("--since", "2026-08-01T10:05:00Z", "-n", "all")
    assert since == [failures[5], *flaky]
    kinds = await run("--kind", "flaky_test", "--kind", "failure_deploy_incident")
    assert kinds == (failures + flaky)[-10:]


async def test_a_filtered_tail_reads_further_back_than_the_last_records(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    # One key: one partition, whose last 250 records are of another kind.
    flaky = make_alert(0, kind="flaky_test", severity="warning")
    after = [make_alert(n) for n in range(1, 251)]
    await publish(kafka_bootstrap, kafka_topics, [flaky, *after])
    shown = await tail_json(kafka_bootstrap, kafka_topics, "--kind", "flaky_test", "-n", "1")
    assert shown == [flaky]
    assert await tail_json(kafka_bootstrap, kafka_topics, "-n", "3") == after[-3:]


async def test_from_beginning_and_limit_print_the_first_alerts_kept(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    alerts = [make_alert(n) for n in range(4)]
    await publish(kafka_bootstrap, kafka_topics, alerts)
    shown = await tail_json(kafka_bootstrap, kafka_topics, "--from-beginning", "--limit", "3")
    assert shown == alerts[:3]


async def test_tail_follows_new_alerts_readably_and_stops_cleanly_on_sigint(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    old, new = make_alert(7), make_alert(8, service="ledger")
    await publish(kafka_bootstrap, kafka_topics, [old])
    with start_tail(tail_env(kafka_bootstrap, kafka_topics), "-n", "1", "-f") as process:
        try:
            assert process.stdout is not None
            assert process.stderr is not None
            first = await asyncio.to_thread(process.stdout.readline)
            await publish(kafka_bootstrap, kafka_topics, [new])
            while f"alert {new.alert_id}" not in (line := process.stdout.readline().decode()):
                assert line, "tail ended before the new alert"
            process.send_signal(signal.SIGINT)
            errors = await asyncio.to_thread(process.stderr.read)
            await asyncio.to_thread(process.wait, 30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, errors.decode()[-2000:]
    assert first.decode().startswith("2026-08-01 10:07:00Z  CRITICAL  failure_deploy_incident")
    assert "\033[" not in first.decode()  # no colour when stdout is not a terminal
