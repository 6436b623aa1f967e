from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.store.batch import Batch
from services.store.records import Row
from services.store.statements import STATEMENTS
from tests.store_stream import build_event, raw, result, stream

T = datetime(2026, 8, 1, tzinfo=UTC)


def _batch(messages: Sequence[tuple[str, bytes | None, bytes | None]]) -> Batch:
    batch = Batch()
    for offset, (topic, key, value) in enumerate(messages):
        batch.add_record(topic, 0, offset, key=key, value=value, base_topic=topic)
    return batch


def _build(batch: Batch, build_id: str) -> dict[str, Any]:
    return batch.rows["builds"][(build_id,)]


def test_the_newest_build_event_wins_whatever_the_order_they_are_read_in() -> None:
    running = build_event("b", 1, "running", 0, "build.running").to_json()
    passed = build_event("b", 1, "passed", 5).to_json()
    in_order = _batch([("buildkite.builds", b"p", running), ("buildkite.builds", b"p", passed)])
    reversed_ = _batch([("buildkite.builds", b"p", passed), ("buildkite.builds", b"p", running)])
    assert _build(in_order, "b") == _build(reversed_, "b")
    assert _build(in_order, "b")["state"] == "passed"
    assert _build(in_order, "b")["finished_at"] is not None


def test_reading_a_message_again_changes_nothing() -> None:
    messages = [(t, k, raw(m)) for t, k, m in stream()]
    once = _batch(messages)
    twice = _batch(messages + messages)
    assert once.rows.keys() == twice.rows.keys()
    for name, rows in once.rows.items():
        if name != "test_days":  # rollups count records; offsets keep records single
            assert twice.rows[name] == rows, name


def test_an_older_message_fills_only_what_the_newer_one_left_empty() -> None:
    latest = STATEMENTS["deploys"]
    newer = {
        "deploy_id": "d",
        "event_at": T + timedelta(1),
        "event_id": "2",
        "url": None,
        "state": "succeeded",
    }
    older = {
        "deploy_id": "d",
        "event_at": T,
        "event_id": "1",
        "url": "https://d",
        "state": "started",
    }
    assert latest.fold(newer, older) == {**newer, "url": "https://d"}
    assert latest.fold(older, newer) == {**newer, "url": "https://d"}


def test_day_rollups_of_one_test_add_up() -> None:
    values = [
        result(1, "t", "passed", 0, duration_s=0.1),
        result(2, "t", "failed", 1, duration_s=0.3),
        result(3, "t", "skipped", 2, duration_s=None),
    ]
    batch = _batch([("tests.results", b"s", v.to_json()) for v in values])
    (day,) = batch.rows["test_days"].values()
    assert (day["runs"], day["passes"], day["failures"], day["skips"]) == (3, 1, 1, 1)
    assert day["duration_count"] == 2
    assert abs(day["duration_sum_s"] - 0.4) < 1e-9
    assert sum(day["duration_hist"].values()) == 2


def test_a_test_seen_twice_keeps_its_first_and_last_sighting_and_last_failure() -> None:
    values = [
        result(2, "t", "passed", 10),
        result(1, "t", "failed", 5),
        result(3, "t", "passed", 0),
    ]
    batch = _batch([("tests.results", b"s", v.to_json()) for v in values])
    (test,) = batch.rows["tests_seen"].values()
    assert test["first_seen_at"] == values[2].received_at
    assert test["last_seen_at"] == values[0].received_at
    assert test["last_failure_at"] == values[1].received_at


def test_poison_is_counted_once_per_record_and_its_offset_still_advances() -> None:
    batch = _batch([("alerts", b"k", b"nope"), ("alerts", b"k", b"{}"), ("alerts", b"k", b"x")])
    assert batch.poison == {("alerts", "json"): 2, ("alerts", "schema"): 1}
    assert batch.offsets == {("alerts", 0): 3}
    assert "offset 0" not in batch.first_poison[("alerts", "json")]
    assert batch.first_poison[("alerts", "json")].startswith("alerts[0]@0")
    assert len(batch) == 0


def test_an_episode_keeps_the_first_recovery_it_was_given() -> None:
    batch = Batch()
    flagged = {"test_key": "k", "flagged_at": T, "recovered_at": None}
    batch.add(Row("flaky_episodes", flagged))
    batch.add(Row("flaky_episodes", {**flagged, "recovered_at": T + timedelta(1)}))
    batch.add(Row("flaky_episodes", {**flagged, "recovered_at": T + timedelta(2)}))
    assert batch.rows["flaky_episodes"][("k", T)]["recovered_at"] == T + timedelta(1)


@pytest.mark.parametrize("attempt", [b"9" * 25, str(2**31).encode(), str(-(2**31) - 1).encode()])
def test_an_attempt_too_big_for_the_database_is_poison_not_a_failed_batch(attempt: bytes) -> None:
    value = raw(result(1, "t", "failed", 0)).replace(b'"attempt":1', b'"attempt":' + attempt)
    batch = _batch([("tests.results", b"s", value)])
    assert batch.poison == {("tests.results", "schema"): 1}
    assert "test_results" not in batch.rows
    assert batch.offsets == {("tests.results", 0): 1}


def test_the_largest_attempt_every_database_takes_is_kept() -> None:
    value = raw(result(1, "t", "failed", 0)).replace(b'"attempt":1', b'"attempt":%d' % (2**31 - 1))
    batch = _batch([("tests.results", b"s", value)])
    assert not batch.poison
    assert [row["attempt"] for row in batch.rows["test_results"].values()] == [2**31 - 1]


def test_a_record_with_a_number_past_its_column_adds_none_of_its_rows() -> None:
    wide = build_event("b", 2**31, "passed", 5).to_json()
    batch = _batch([("buildkite.builds", b"p", wide)])
    assert batch.poison == {("buildkite.builds", "schema"): 1}
    assert batch.rows == {}  # not even its pipeline's row
    assert "builds.number = 2147483648" in batch.first_poison[("buildkite.builds", "schema")]


def test_nul_characters_in_a_test_result_are_kept_as_replacement_characters() -> None:
    value = raw(result(1, "t", "failed", 0)).replace(b'"name":"t"', b'"name":"t\\u0000x"')
    batch = _batch([("tests.results", b"s", value)])
    assert not batch.poison
    (day,) = batch.rows["test_days"]
    assert "/t\ufffdx" in day[0]
    assert "\x00" not in day[0]
