"""Retention with explicit clocks, in bounded batches, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.store import tables
from services.store.batch import Batch
from services.store.prune import Retention, prune_step
from services.store.writer import write_rows
from tests.store_stream import T0, raw, result, stream


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _fill(engine: Engine) -> None:
    batch = Batch()
    for offset, (topic, key, value) in enumerate(stream()):
        batch.add_record(topic, 0, offset, key=key, value=raw(value), base_topic=topic)
    for n in range(10):  # ten failed executions, one a day from T0 - 9 days to T0
        late = result(100 + n, "test_old", "failed", -(9 - n) * 24 * 60)
        batch.add_record(
            "tests.results", 1, n, key=b"s", value=raw(late), base_topic="tests.results"
        )
    with engine.begin() as conn:
        write_rows(conn, batch)


def test_nothing_younger_than_its_retention_is_pruned(engine: Engine) -> None:
    _fill(engine)
    before = {t.name: _count(engine, t) for t in tables.metadata.sorted_tables}
    deleted = prune_step(engine, Retention(30, 30, 30), T0 + timedelta(days=1), batch=100)
    assert deleted == {}
    assert before == {t.name: _count(engine, t) for t in tables.metadata.sorted_tables}


def test_executions_older_than_the_retention_go_in_bounded_batches(engine: Engine) -> None:
    _fill(engine)
    assert _count(engine, tables.test_results) == 13
    # At T0 + 4.5 days with 10 days kept: executions from before T0 - 5.5 days expire
    # (those of days -9 .. -6: four of them).
    now = T0 + timedelta(days=4, hours=12)
    keep = Retention(results_days=10, rollup_days=0, events_days=0)
    first = prune_step(engine, keep, now, batch=3)
    assert first == {"test_results": 3}
    second = prune_step(engine, keep, now, batch=3)
    assert second == {"test_results": 1}
    assert prune_step(engine, keep, now, batch=3) == {}
    assert _count(engine, tables.test_results) == 9
    assert _count(engine, tables.test_days) == 13  # rollups kept forever (0)


def test_rollups_and_events_have_their_own_retention(engine: Engine) -> None:
    _fill(engine)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    deleted = prune_step(engine, Retention(0, 100, 1000), now, batch=1000)
    assert deleted["test_days"] == 13
    assert deleted["flaky_episodes"] == 1
    assert "builds" not in deleted
    deleted = prune_step(engine, Retention(0, 0, 100), now, batch=1000)
    for table in ("builds", "jobs", "test_runs", "deploys", "incidents", "alerts", "deliveries"):
        assert deleted[table] >= 1, table
    assert _count(engine, tables.tests) == 4  # one row per subject, never pruned
    assert _count(engine, tables.test_results) == 13
