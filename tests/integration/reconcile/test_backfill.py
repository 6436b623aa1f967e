"""Backfill of a 14-day history: killed mid-way and run again, it publishes every
finished event once, oldest first per pipeline, and the flakiness processor flags the
steps that were flaky in it (what builds and jobs can show: see docs/reconcile.md)."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from services.common.topics import Topic, Topics
from services.flakiness.execution import StepSubject
from services.flakiness.messages import alert_id
from services.receiver.events import normalise
from tests.integration.flakiness.test_processor import processor, read_alerts
from tests.integration.reconcile.buildkite_api import BuildkiteApi, running_api
from tests.integration.reconcile.commands import command_env, read_finished, run_command
from tests.kafka_io import committed_reader
from tests.unit.reconcile.history import generate, webhooks

PIPELINES = ["web", "api", "ledger"]
FLAKY = frozenset({"api", "ledger"})


async def test_interrupted_backfill_resumes_publishes_once_and_fills_flakiness(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    now = datetime.now(UTC)
    history = generate(
        PIPELINES,
        start=now - timedelta(days=14) + timedelta(hours=1),
        builds=110,
        every=timedelta(hours=3),
        flaky=FLAKY,
    )
    complete = Counter(
        routed.event_id
        for build in history.builds
        for name, body in webhooks(build)
        if (routed := normalise(name, body, now))
    )
    api = BuildkiteApi(history.builds, max_page=3, delay_s=0.1)
    with running_api(api) as url:
        env = command_env(
            kafka_bootstrap,
            kafka_topics,
            url,
            KITESTREAM_RECONCILE_PAGE_SIZE="10",
            KITESTREAM_RECONCILE_CHUNK_HOURS="24",
        )
        args = ["-m", "services", "backfill", "--since", "14d"]
        args += [arg for p in PIPELINES for arg in ("--pipeline", p)]
        killed = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        try:  # the count lives in the server's thread: poll it
            while len(api.served) < 20 and killed.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        finally:
            killed.kill()
            await killed.wait()
        first = await read_finished(kafka_bootstrap, kafka_topics)
        assert 0 < len(first) < sum(complete.values()), "the kill must land mid-way"

        resumed = await run_command(env, "backfill", "--since", "14d", *args[5:])
        assert resumed.returncode == 0, resumed.stderr
    assert "[##############################] 100%" in resumed.stderr  # the progress bar
    assert "Traceback" not in resumed.stderr

    published = await read_finished(kafka_bootstrap, kafka_topics)
    assert Counter(p.event_id for p in published) == complete  # all of it, nothing twice
    assert all(p.value["source"] == "rest" for p in published)
    finished_at: dict[tuple[str, int], list[str]] = defaultdict(list)
    for p in published:
        if p.topic == kafka_topics.name(Topic.JOBS):
            finished_at[(p.key, p.partition)].append(p.value["job"]["finished_at"])
    assert {key for key, _ in finished_at} == set(PIPELINES)
    for times in finished_at.values():  # event-time order per pipeline
        assert times == sorted(times)

    expected = {alert_id(StepSubject(p, "unit-tests"), "flaky_test", 1) for p in FLAKY}
    async with committed_reader(kafka_bootstrap, kafka_topics.name(Topic.ALERTS)) as reader:
        with processor(kafka_bootstrap, kafka_topics, "backfilled"):
            alerts = await read_alerts(reader, [], len(expected), timeout_s=120)
            await read_alerts(reader, alerts, len(expected) + 1, timeout_s=3)
    assert {str(a["alert_id"]) for a in alerts if a["kind"] == "flaky_test"} == expected
