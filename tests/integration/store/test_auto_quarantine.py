"""Auto-quarantine in the store, with explicit clocks: which changes are due from the
tables (both databases), and the whole loop on real Kafka (a flaky flag read from
``flakiness.state`` -> a mute published on ``tests.quarantine`` -> read back; the
recovery -> an unmute)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas.flakiness import FlakinessState
from services.common.topics import Topics
from services.quarantine.policy import AUTO, AutoQuarantine
from services.quarantine.state import ChangeRequest, TestIdentity, transition
from services.store import tables
from services.store.autoquarantine import due_changes
from services.store.batch import Batch
from services.store.prune import Retention
from services.store.service import Store
from services.store.writer import write_rows
from tests.integration.store.tables_io import produce
from tests.unit.api.rows import add_test

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
DAY = AutoQuarantine(timedelta(hours=24))
FLAKY = "payments-pytest/tests/test_pay.py/test_refund"
MANUAL = "payments-pytest/tests/test_pay.py/test_manual"


def _muted_then_unmuted_by_hand(engine: Engine, key: str, at: datetime) -> None:
    test = TestIdentity("payments-pytest", "tests/test_pay.py", key.rsplit("/", 1)[1])
    mute = transition(test, None, ChangeRequest("muted", "alice", "by hand"), at)
    unmute = transition(test, mute, ChangeRequest("active", "alice"), at + timedelta(minutes=5))
    assert mute is not None
    assert unmute is not None
    batch = Batch()
    for offset, change in enumerate((mute, unmute)):
        batch.add_record("q", 0, offset, key=key.encode(), value=change.to_json(),
                         base_topic="tests.quarantine")  # fmt: skip
    with engine.begin() as conn:
        write_rows(conn, batch)


def test_tests_flagged_long_enough_are_due_a_mute_unless_a_person_decided(engine: Engine) -> None:
    with engine.begin() as conn:
        add_test(conn, FLAKY, scope="tests/test_pay.py", name="test_refund", status="flaky",
                 flaky_since=T0, state_updated_at=T0)  # fmt: skip
        add_test(conn, MANUAL, scope="tests/test_pay.py", name="test_manual", status="flaky",
                 flaky_since=T0, state_updated_at=T0)  # fmt: skip
        add_test(conn, "payments-pytest/tests/test_pay.py/test_fine", scope="tests/test_pay.py",
                 name="test_fine")  # fmt: skip
    _muted_then_unmuted_by_hand(engine, MANUAL, T0 + timedelta(hours=1))  # on purpose
    assert due_changes(engine, DAY, T0 + timedelta(hours=23)) == []
    [change] = due_changes(engine, DAY, T0 + timedelta(hours=25))
    assert (change.key, change.state, change.set_by, change.at) == (
        FLAKY,
        "muted",
        AUTO,
        T0 + timedelta(hours=24),
    )
    assert (change.suite, change.scope, change.name) == (
        "payments-pytest",
        "tests/test_pay.py",
        "test_refund",
    )


def _flag(status: str, at: datetime) -> FlakinessState:
    return FlakinessState(key=FLAKY, kind="test", suite="payments-pytest",
                          scope="tests/test_pay.py", name="test_refund", runs=20, failures=6,
                          flips=8, score=0.4, status=status, episodes=1, since=T0,
                          updated_at=at)  # fmt: skip


def _row(engine: Engine) -> dict[str, object] | None:
    with engine.connect() as conn:
        query = sa.select(tables.quarantine).where(tables.quarantine.c.test_key == FLAKY)
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


async def _until(engine: Engine, state: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        row = _row(engine)
        if row is not None and row["state"] == state:
            return row
        assert time.monotonic() < deadline, row
        await asyncio.sleep(0.2)


async def test_the_store_mutes_a_long_flaky_test_and_unmutes_it_on_recovery(
    engine: Engine, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    now = [T0 + timedelta(hours=30)]  # the store's clock, moved by the test
    store = Store(engine, kafka_bootstrap, kafka_topics, group_id=f"{kafka_topics.prefix}store",
                  retention=Retention(0, 0, 0), auto_quarantine=DAY, auto_interval_s=0.2,
                  clock=lambda: now[0])  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        await produce(kafka_bootstrap, kafka_topics,
                      [("flakiness.state", FLAKY.encode(), _flag("flaky", T0))])  # fmt: skip
        muted = await _until(engine, "muted")
        assert (muted["set_by"], muted["source"], muted["at"]) == (
            AUTO,
            "policy",
            T0 + timedelta(hours=24),
        )
        recovered = T0 + timedelta(days=3)
        now[0] = recovered + timedelta(hours=1)
        stable = _flag("stable", recovered)
        await produce(kafka_bootstrap, kafka_topics, [("flakiness.state", FLAKY.encode(), stable)])
        active = await _until(engine, "active")
        assert (active["set_by"], active["reason"], active["at"]) == (AUTO, "recovered", recovered)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    with engine.connect() as conn:
        history = conn.execute(sa.select(tables.quarantine_changes.c.state)).scalars().all()
    assert sorted(history) == ["active", "muted"]
