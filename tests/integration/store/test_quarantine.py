"""``tests.quarantine`` into the store, on both databases: the newest change per test
wins whole (an unmute clears the expiry), an older change read later does not undo it,
and every change stays in the history once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas.quarantine import QuarantineChange
from services.quarantine.state import ChangeRequest, TestIdentity, transition
from services.store import tables
from services.store.batch import Batch
from services.store.prune import Retention, prune_step
from services.store.writer import write_rows

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
TEST = TestIdentity("payments-pytest", "tests/test_pay.py", "test_refund", "tests/test_pay.py")


def _change(
    request: ChangeRequest, at: datetime, current: QuarantineChange | None = None
) -> QuarantineChange:
    change = transition(TEST, current, request, at)
    assert change is not None
    return change


def _write(engine: Engine, changes: list[QuarantineChange], *, one_batch: bool = False) -> None:
    batch = Batch()
    for offset, change in enumerate(changes):
        topic = "tests.quarantine"
        batch.add_record(topic, 0, offset, key=change.key.encode(), value=change.to_json(),
                         base_topic=topic)  # fmt: skip
        if not one_batch:
            with engine.begin() as conn:
                write_rows(conn, batch)
            batch = Batch()
    if one_batch:
        with engine.begin() as conn:
            write_rows(conn, batch)


def _current(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(tables.quarantine)).mappings()]


def _history(engine: Engine) -> list[str]:
    query = sa.select(tables.quarantine_changes.c.state).order_by(tables.quarantine_changes.c.at)
    with engine.connect() as conn:
        return list(conn.scalars(query))


MUTE = _change(ChangeRequest("muted", "alice", "flaky", T0 + timedelta(days=7)), T0)
UNMUTE = _change(ChangeRequest("active", "bob", "fixed"), T0 + timedelta(hours=1), MUTE)


def test_a_mute_is_the_current_state_with_who_why_and_until(engine: Engine) -> None:
    _write(engine, [MUTE])
    [row] = _current(engine)
    assert row["test_key"] == TEST.key
    assert (row["suite"], row["scope"], row["name"], row["file"]) == (
        "payments-pytest",
        "tests/test_pay.py",
        "test_refund",
        "tests/test_pay.py",
    )
    assert (row["state"], row["set_by"], row["reason"], row["source"]) == (
        "muted",
        "alice",
        "flaky",
        "manual",
    )
    assert (row["at"], row["until"]) == (T0, T0 + timedelta(days=7))


def test_an_unmute_replaces_the_mute_whole_expiry_included(engine: Engine) -> None:
    _write(engine, [MUTE, UNMUTE])
    [row] = _current(engine)
    assert (row["state"], row["set_by"], row["until"]) == ("active", "bob", None)
    assert _history(engine) == ["muted", "active"]


def test_an_older_change_read_later_does_not_undo_the_newer(engine: Engine) -> None:
    _write(engine, [UNMUTE, MUTE])  # in separate transactions: the SQL upsert decides
    assert _current(engine)[0]["state"] == "active"
    _write(engine, [UNMUTE, MUTE], one_batch=True)  # in one batch: the fold decides
    assert _current(engine)[0]["state"] == "active"
    assert _history(engine) == ["muted", "active"]  # each change once


def test_a_tombstone_is_skipped_and_an_unreadable_change_is_counted_as_poison(
    engine: Engine,
) -> None:
    batch = Batch()
    batch.add_record("q", 0, 0, key=b"k", value=None, base_topic="tests.quarantine")
    batch.add_record("q", 0, 1, key=b"k", value=b'{"state":"muted"}', base_topic="tests.quarantine")
    with engine.begin() as conn:
        write_rows(conn, batch)
    assert _current(engine) == []
    assert dict(batch.poison) == {("tests.quarantine", "schema"): 1}


def test_the_history_of_changes_is_pruned_with_the_events_and_the_current_state_stays(
    engine: Engine,
) -> None:
    _write(engine, [MUTE, UNMUTE])
    keep = Retention(results_days=0, rollup_days=0, events_days=30)
    assert prune_step(engine, keep, T0 + timedelta(days=29), batch=10) == {}
    deleted = prune_step(engine, keep, T0 + timedelta(days=30, minutes=30), batch=10)
    assert deleted == {"quarantine_changes": 1}  # the mute; the unmute is 30 min younger
    assert _history(engine) == ["active"]
    assert [row["state"] for row in _current(engine)] == ["active"]
