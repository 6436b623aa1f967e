"""The delivered index: what was settled, and which alert a recovery resolves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.dispatcher.records import DeliveredIndex, DeliveryRecord, record_key
from tests.unit.dispatcher.factories import T0


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
