"""Reconcile and backfill in process (the commands' own code paths, without a subprocess):
stop and resume, checkpoints, a failing API."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.topics import Topics
from services.receiver.events import normalise
from services.reconcile.backfill import backfill
from services.reconcile.service import run_reconcile
from services.reconcile.settings import ReconcileSettings
from tests.integration.reconcile.buildkite_api import TOKEN, BuildkiteApi, running_api
from tests.integration.reconcile.commands import read_finished
from tests.ports import free_port
from tests.unit.reconcile.history import History, generate, webhooks


def settings(bootstrap: str, topics: Topics, url: str, **extra: Any) -> ReconcileSettings:
    return ReconcileSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=topics.prefix,
        api_token=TOKEN,
        organization="acme",
        api_url=url,
        backoff_s=0.05,
        **extra,
    )


def event_ids(history: History) -> Counter[str]:
    now = datetime.now(UTC)
    return Counter(
        r.event_id
        for b in history.builds
        for n, body in webhooks(b)
        if (r := normalise(n, body, now))
    )


async def test_backfill_stops_when_asked_and_resumes_from_its_checkpoint(
    kafka_bootstrap: str, kafka_topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    history = generate(
        ["web"], start=start, builds=30, every=timedelta(hours=2), flaky=frozenset({"web"})
    )
    api = BuildkiteApi(history.builds, delay_s=0.05)
    with running_api(api) as url:
        knobs = settings(kafka_bootstrap, kafka_topics, url, chunk_hours=12.0, page_size=5)
        stop = asyncio.Event()

        async def stop_after_two_windows() -> None:
            while len(api.served) < 4:  # noqa: ASYNC110 - counted in the server's thread
                await asyncio.sleep(0.01)
            stop.set()

        stopper = asyncio.create_task(stop_after_two_windows())
        first = await backfill(knobs, timedelta(days=4), ["web"], stop)
        await stopper
        assert 0 < sum(first.values()) < sum(event_ids(history).values())
        rest = await backfill(knobs, timedelta(days=4), ["web"], asyncio.Event())
        served = len(api.served)
        nothing = await backfill(knobs, timedelta(days=4), ["web"], asyncio.Event())
    assert sum(nothing.values()) == 0
    assert len(api.served) - served <= 2  # only the minutes since the last run
    published = await read_finished(kafka_bootstrap, kafka_topics)
    assert Counter(p.event_id for p in published) == event_ids(history)
    assert first + rest == Counter(
        "build" if p.value["event"] == "build.finished" else "job" for p in published
    )
    err = capsys.readouterr().err
    assert "web [" in err
    assert "100%" in err


async def test_reconcile_once_publishes_what_is_missing_then_nothing(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    history = generate(["web", "api"], start=start, builds=8, every=timedelta(minutes=10))
    api = BuildkiteApi(history.builds)
    with running_api(api) as url:
        knobs = settings(
            kafka_bootstrap, kafka_topics, url, interval_s=4 * 3600.0, pipelines=["web", "api"]
        )
        assert await run_reconcile(knobs, asyncio.Event(), once=True) == 0
        assert await run_reconcile(knobs, asyncio.Event(), once=True) == 0
    published = await read_finished(kafka_bootstrap, kafka_topics)
    assert Counter(p.event_id for p in published) == event_ids(history)
    assert {s.path.rsplit("/", 2)[-2] for s in api.served} == {"web", "api"}  # per pipeline


async def test_a_pass_that_cannot_reach_the_api_fails_without_publishing(
    kafka_bootstrap: str, kafka_topics: Topics, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    knobs = settings(kafka_bootstrap, kafka_topics, url, max_attempts=2, timeout_s=1.0)
    assert await run_reconcile(knobs, asyncio.Event(), once=True) == 1
    assert "reconcile pass failed" in caplog.text
    assert TOKEN not in caplog.text
    assert await read_finished(kafka_bootstrap, kafka_topics) == []


async def test_a_signal_during_a_rate_limit_wait_stops_the_service_without_a_checkpoint(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    history = generate(
        ["web"], start=datetime.now(UTC) - timedelta(hours=1), builds=3, every=timedelta(minutes=5)
    )
    api = BuildkiteApi(history.builds, faults=["429"], window_s=600.0)  # a reset 10 minutes away
    with running_api(api) as url:
        knobs = settings(kafka_bootstrap, kafka_topics, url, metrics_port=0)
        stop = asyncio.Event()
        service = asyncio.create_task(run_reconcile(knobs, stop))
        while not api.served:  # noqa: ASYNC110 - counted in the server's thread
            await asyncio.sleep(0.01)
        stop.set()
        assert await asyncio.wait_for(service, 120) == 0  # not 10 minutes later
    assert [s.status for s in api.served] == [429]
    assert await read_finished(kafka_bootstrap, kafka_topics) == []
