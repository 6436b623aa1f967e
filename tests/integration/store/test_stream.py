"""The known stream (tests/store_stream.py) through real Kafka into each database."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from services.common.topics import Topics
from services.store.metrics import StoreMetrics
from services.store.prune import Retention
from services.store.records import Policy
from services.store.service import Store
from tests.integration.store.tables_io import produce, snapshot, wait_for_offsets
from tests.store_stream import T0, Message, build_event, job_event, raw, stream

CHARGE = "payments-pytest/tests.test_pay/test_charge/tests/test_pay.py"
REFUND = "payments-pytest/tests.test_pay/test_refund/tests/test_pay.py"
VOID = "payments-pytest/tests.test_pay/test_void/tests/test_pay.py"


KEEP_ALL = Retention(0, 0, 0)  # the stream is dated 2026-08-01: no pruning here


def _store(engine: Engine, kafka_bootstrap: str, topics: Topics, **options: Any) -> Store:
    group = f"{topics.prefix}store"
    return Store(engine, kafka_bootstrap, topics, group_id=group, retention=KEEP_ALL, **options)


async def _run_store(store: Store, engine: Engine, total: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        await wait_for_offsets(engine, total)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _pick(rows: list[dict[str, Any]], *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(row[c] for c in columns) for row in rows]


@pytest.fixture
async def stored(
    engine: Engine, kafka_bootstrap: str, kafka_topics: Topics
) -> dict[str, list[dict[str, Any]]]:
    total = await produce(kafka_bootstrap, kafka_topics, stream())
    store = _store(engine, kafka_bootstrap, kafka_topics)
    await _run_store(store, engine, total)
    return snapshot(engine)


def at(minutes: float) -> Any:
    return T0 + timedelta(minutes=minutes)


async def test_builds_and_jobs_hold_the_latest_state_of_each(
    stored: dict[str, list[dict[str, Any]]],
) -> None:
    builds = _pick(stored["builds"], "id", "number", "state", "branch", "commit", "finished_at")
    assert builds == [
        ("b1", 1, "passed", "main", "c1", at(13)),
        ("b2", 2, "failed", "main", "c2", at(36)),
    ]
    assert all(row["event_id"] for row in stored["builds"])  # real build events, not refs
    jobs = _pick(stored["jobs"], "id", "build_id", "state", "exit_status", "retry_source_job_id")
    assert jobs == [
        ("j1", "b1", "failed", 1, None),
        ("j1r", "b1", "passed", 0, "j1"),
        ("j2", "b2", "failed", 1, None),
    ]
    assert _pick(stored["pipelines"], "slug", "name") == [("payments-api", "Payments API")]


async def test_only_failed_executions_and_passes_on_a_retry_are_kept(
    stored: dict[str, list[dict[str, Any]]],
) -> None:
    results = _pick(stored["test_results"], "event_id", "test_key", "result", "attempt")
    assert results == [
        ("tr-1", CHARGE, "failed", 1),
        ("tr-2", CHARGE, "passed", 2),
        ("tr-6", VOID, "failed", 1),
    ]


async def test_day_rollups_count_every_execution_and_new_evidence(
    stored: dict[str, list[dict[str, Any]]],
) -> None:
    days = _pick(stored["test_days"], "test_key", "runs", "passes", "failures", "skips", "flaky")
    assert days == [
        (CHARGE, 2, 1, 1, 0, 1),
        (REFUND, 3, 2, 0, 1, 0),
        (VOID, 1, 0, 1, 0, 0),
    ]
    refund = stored["test_days"][1]
    assert refund["duration_count"] == 3
    assert 0.25 / 1.5 <= refund["duration_p50_s"] <= 0.25 * 1.5
    assert refund["duration_p95_s"] >= 1.5 / 1.5
    assert stored["test_days"][2]["duration_p50_s"] is None  # no duration reported


async def test_tests_carry_flaky_status_episodes_and_evidence(
    stored: dict[str, list[dict[str, Any]]],
) -> None:
    tests = _pick(stored["tests"], "test_key", "status", "episodes", "last_failure_at")
    assert tests == [(CHARGE, "stable", 1, at(8)), (REFUND, None, 0, None), (VOID, None, 0, at(35))]
    charge = stored["tests"][0]
    assert charge["flaky_since"] == at(20)
    assert charge["first_seen_at"] == at(8)
    assert charge["last_seen_at"] == at(12)
    assert charge["last_evidence"][0]["kind"] == "job_retry"
    assert _pick(stored["flaky_episodes"], "test_key", "flagged_at", "recovered_at") == [
        (CHARGE, at(20), at(600))
    ]
    (evidence,) = stored["flaky_evidence"]
    assert evidence["job_ids"] == ["j1", "j1r"]
    assert evidence["urls"] == ["https://buildkite.com/acme/payments-api/builds/1#j1"]


async def test_runs_deploys_incidents_alerts_and_deliveries_are_stored(
    stored: dict[str, list[dict[str, Any]]],
) -> None:
    assert _pick(stored["test_runs"], "build_id", "suite", "failed_count") == [
        ("b2", "payments-pytest", 1)
    ]
    assert _pick(stored["deploys"], "deploy_id", "state", "started_at", "finished_at") == [
        ("d1", "succeeded", at(30), at(33))
    ]
    assert _pick(stored["incidents"], "incident_id", "status", "opened_at", "resolved_at") == [
        ("P1", "resolved", at(40), at(90))
    ]
    assert _pick(stored["alerts"], "alert_id", "kind", "subject", "created_at") == [
        ("a1", "failure_deploy_incident", "payments-api", at(41)),
        ("a2", "flaky_test", CHARGE, at(21)),
    ]
    assert stored["alerts"][0]["body"]["links"]["build"].endswith("/builds/2")
    assert _pick(stored["deliveries"], "alert_id", "sink", "outcome") == [
        ("a1", "oncall", "delivered")
    ]


async def test_poison_records_are_skipped_counted_and_logged_once_per_kind(
    engine: Engine,
    kafka_bootstrap: str,
    kafka_topics: Topics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = [m for m in stream() if m[0] == "alerts"]
    bad = [
        ("alerts", b"k", b"{oops"),
        ("alerts", b"k", b'{"alert_id": "x"}'),
        ("alerts", b"k", b"{also not json"),
        ("buildkite.builds", b"p", b'{"event": 1}'),
    ]
    total = await produce(kafka_bootstrap, kafka_topics, [bad[0], *good, *bad[1:]])
    store = _store(engine, kafka_bootstrap, kafka_topics)
    with caplog.at_level(logging.WARNING, logger="services.store.service"):
        await _run_store(store, engine, total)
    assert [row["alert_id"] for row in snapshot(engine)["alerts"]] == ["a1", "a2"]
    sample = store.metrics.registry.get_sample_value
    name = "kitestream_store_poison_records_total"
    assert sample(name, {"topic": "alerts", "kind": "json"}) == 2
    assert sample(name, {"topic": "alerts", "kind": "schema"}) == 1
    assert sample(name, {"topic": "buildkite.builds", "kind": "schema"}) == 1
    warnings = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(warnings) == 3


async def test_values_no_database_column_takes_are_poison_or_kept_readable_not_a_stuck_batch(
    engine: Engine, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    """Numbers past the columns' range (a 32-bit ``number`` on PostgreSQL, any 64-bit
    column) are poison on both databases; text with NUL characters, which PostgreSQL's
    text refuses, is kept with each NUL as U+FFFD. Neither stops the store."""
    huge = raw(build_event("b-huge", 1234567, "passed", 2)).replace(
        b'"number":1234567',
        b'"number":%d' % 2**70,  # past what orjson writes
    )
    event = build_event("b-nul", 7, "failed", 4)
    nul = event.model_copy(
        update={"build": event.build.model_copy(update={"message": "fix\x00 the \x00parser"})}
    )
    messages: list[Message] = [
        ("buildkite.builds", b"p", build_event("b-wide", 2**31, "passed", 1)),
        ("buildkite.builds", b"p", huge),
        ("buildkite.jobs", b"p", job_event("j-wide", "b-1", 1, "passed", 3, retries_count=2**31)),
        ("buildkite.builds", b"p", nul),
        *(m for m in stream() if m[0] == "alerts"),
    ]
    total = await produce(kafka_bootstrap, kafka_topics, messages)
    store = _store(engine, kafka_bootstrap, kafka_topics)
    await _run_store(store, engine, total)
    stored = snapshot(engine)
    assert [row["alert_id"] for row in stored["alerts"]] == ["a1", "a2"]
    assert _pick(stored["builds"], "id", "message") == [("b-nul", "fix\ufffd the \ufffdparser")]
    assert stored["jobs"] == []
    sample = store.metrics.registry.get_sample_value
    name = "kitestream_store_poison_records_total"
    assert sample(name, {"topic": "buildkite.builds", "kind": "schema"}) == 2
    assert sample(name, {"topic": "buildkite.jobs", "kind": "schema"}) == 1


async def test_a_restarted_store_reads_on_from_the_offsets_in_the_database(
    engine: Engine, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    messages = stream()
    half = len(messages) // 2
    first = await produce(kafka_bootstrap, kafka_topics, messages[:half])
    await _run_store(_store(engine, kafka_bootstrap, kafka_topics), engine, first)
    rest = await produce(kafka_bootstrap, kafka_topics, messages[half:])
    again = _store(engine, kafka_bootstrap, kafka_topics, policy=Policy())
    await _run_store(again, engine, first + rest)
    days = {row["test_key"]: row["runs"] for row in snapshot(engine)["test_days"]}
    assert days == {CHARGE: 2, REFUND: 3, VOID: 1}  # nothing read twice


async def test_the_lag_gauge_is_zero_on_every_topic_once_the_store_has_caught_up(
    engine: Engine, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    total = await produce(kafka_bootstrap, kafka_topics, stream())
    metrics = StoreMetrics()
    store = _store(engine, kafka_bootstrap, kafka_topics, metrics=metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    caught_up = dict.fromkeys(store.base.values(), 0.0)
    try:
        await wait_for_offsets(engine, total)
        for _ in range(300):  # each turn of the loop (at most 0.5 s idle) sets the gauge
            lag = {
                topic: metrics.registry.get_sample_value(
                    "kitestream_store_lag_records", {"topic": topic}
                )
                for topic in store.base.values()
            }
            if lag == caught_up:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert lag == caught_up  # None: never set
