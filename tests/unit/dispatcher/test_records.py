"""The delivered index: what was settled, and which alert a recovery resolves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.dispatcher.records import DeliveredIndex, DeliveryRecord, record_key
from tests.thorough import length
from tests.unit.dispatcher.factories import T0

MINUTE = timedelta(minutes=1)


def record(alert_id: str, **fields: Any) -> DeliveryRecord:
    values: dict[str, Any] = {
        "alert_id": alert_id,
        "sink": "pd",
        "outcome": "delivered",
        "attempts": 1,
        "at": T0,
        "kind": "flaky_test",
        "created_at": T0,
        "subject": "suite/test_a",
    }
    values.update(fields)
    return DeliveryRecord.model_validate(values)


def test_records_are_keyed_by_alert_and_sink() -> None:
    assert record("a1").key() == record_key("a1", "pd") == b"a1/pd"


def test_the_index_knows_what_was_settled_per_sink() -> None:
    index = DeliveredIndex()
    index.add(record("a1"))
    index.add(record("a2", outcome="dead_lettered", sink="slack"))
    assert index.settled("a1", "pd")
    assert index.settled("a2", "slack")
    assert not index.settled("a1", "slack")
    assert len(index) == 2


def test_the_latest_trigger_is_found_whatever_order_records_come_in() -> None:
    older = record("old", created_at=T0)
    newer = record("new", created_at=T0 + timedelta(days=3))
    for order in ([older, newer], [newer, older]):
        index = DeliveredIndex()
        for r in order:
            index.add(r)
        assert index.latest_trigger("pd", "suite/test_a") == "new"


def test_recoveries_dead_letters_and_other_sinks_are_not_triggers() -> None:
    index = DeliveredIndex()
    index.add(record("t1"))
    index.add(record("r1", kind="flaky_test_recovered", created_at=T0 + timedelta(days=1)))
    index.add(record("d1", outcome="dead_lettered", created_at=T0 + timedelta(days=2)))
    index.add(record("s1", sink="slack", created_at=T0 + timedelta(days=3)))
    assert index.latest_trigger("pd", "suite/test_a") == "t1"
    assert index.latest_trigger("pd", "suite/other") is None
    assert index.latest_trigger("pd", None) is None


def test_pairs_older_than_the_retention_leave_and_newer_ones_stay() -> None:
    index = DeliveredIndex(retention_s=3600)
    index.add(record("a1", at=T0))
    index.add(record("a2", at=T0 + timedelta(minutes=30)))
    index.add(record("a3", at=T0 + timedelta(minutes=61)))  # the newest: a1 is out
    assert not index.settled("a1", "pd")
    assert index.settled("a2", "pd")
    assert index.settled("a3", "pd")
    assert len(index) == 2
    assert index.latest_trigger("pd", "suite/test_a") in {"a1", "a2", "a3"}  # kept


def test_read_back_in_any_order_the_index_holds_the_same_pairs() -> None:
    records = [record(f"a{n}", at=T0 + timedelta(minutes=20 * n)) for n in range(10)]
    held = []
    for order in (records, records[::-1], records[1::2] + records[::2]):
        index = DeliveredIndex(retention_s=3600)
        for r in order:
            index.add(r)
        held.append({n for n in range(10) if index.settled(f"a{n}", "pd")})
    assert held == [{6, 7, 8, 9}] * 3


def test_a_pair_settled_again_later_stays_for_its_later_time() -> None:
    index = DeliveredIndex(retention_s=3600)
    index.add(record("a1", at=T0))
    index.add(record("a1", at=T0 + timedelta(minutes=50)))  # e.g. a duplicate sent again
    index.add(record("a2", at=T0 + timedelta(minutes=90)))
    assert index.settled("a1", "pd")
    index.add(record("a3", at=T0 + timedelta(minutes=111)))
    assert not index.settled("a1", "pd")


def test_records_older_than_the_retention_before_the_time_told_are_left_out() -> None:
    index = DeliveredIndex(retention_s=3600)
    index.advance((T0 + timedelta(hours=2)).timestamp())
    index.add(record("old", at=T0))
    index.add(record("recent", at=T0 + timedelta(minutes=90)))
    assert not index.settled("old", "pd")
    assert index.settled("recent", "pd")
    index.advance(T0.timestamp())  # the clock does not go back
    index.add(record("old", at=T0))
    assert not index.settled("old", "pd")


def test_without_a_retention_every_pair_is_kept() -> None:
    index = DeliveredIndex()
    for n in range(100):
        index.add(record(f"a{n}", at=T0 + timedelta(days=n)))
    assert len(index) == 100


def test_a_long_run_holds_one_retention_of_pairs_and_decides_as_the_unbounded_index() -> None:
    """200,000 deliveries: an alert a minute for 70 days (14 in the short form), to two
    sinks; each alert is read a second time (a restart, a rebalance, a duplicate) up to
    a day later, within the retention of 2 days. The bounded index skips exactly what
    the unbounded one skips, and never holds more than two days of pairs."""
    alerts, sinks, retention_s = length(100_000, 20_000), ("pd", "slack"), 2 * 86_400
    bounded, unbounded = DeliveredIndex(retention_s), DeliveredIndex()
    replays: dict[int, list[int]] = {}  # minute -> alerts read again then
    decisions: list[tuple[bool, bool]] = []
    largest = 0
    settled = record("template")
    for minute in range(alerts):
        replays.setdefault(minute + (minute * 7919) % 1440, []).append(minute)
        for n in [minute, *replays.pop(minute, [])]:
            for sink in sinks:
                alert_id = f"alert-{n}"
                seen = (bounded.settled(alert_id, sink), unbounded.settled(alert_id, sink))
                decisions.append(seen)
                if not seen[0]:
                    done = settled.model_copy(
                        update={"alert_id": alert_id, "sink": sink, "at": T0 + minute * MINUTE}
                    )
                    bounded.add(done)
                    unbounded.add(done)
        largest = max(largest, len(bounded))
    assert all(mine == theirs for mine, theirs in decisions)
    # every alert but the last day's is read again within the run, and skipped then
    assert sum(skipped for skipped, _ in decisions) >= (alerts - 1440) * len(sinks)
    assert len(unbounded) == alerts * len(sinks)
    assert largest <= (retention_s // 60 + 1) * len(sinks)  # two days of minutes
    assert len(bounded._expiry) <= largest
