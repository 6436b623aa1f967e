from __future__ import annotations

from typing import Any

import pytest

from services.store.records import DECODERS, Poison, Policy, Row, test_key
from tests.store_stream import raw, result, stream


def _rows(topic: str, value: bytes | None, key: bytes | None = b"k", **policy: Any) -> list[Row]:
    return DECODERS[topic](value, key, Policy(**policy))


def _by_statement(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.statement, []).append(row.values)
    return out


def test_every_message_of_the_known_stream_decodes() -> None:
    for topic, key, message in stream():
        assert _rows(topic, raw(message), key), topic


def test_a_test_key_is_suite_scope_name_and_file_when_there_is_one() -> None:
    assert test_key("s", "scope", "name", None) == "s/scope/name"
    assert test_key("s", "scope", "name", "f.py") == "s/scope/name/f.py"


def test_a_passed_execution_is_rolled_up_but_not_kept() -> None:
    rows = _by_statement(_rows("tests.results", result(1, "t", "passed", 0).to_json()))
    assert "test_results" not in rows
    (day,) = rows["test_days"]
    assert (day["runs"], day["passes"], day["failures"], day["skips"]) == (1, 1, 0, 0)
    assert day["duration_count"] == 1


def test_failed_executions_and_passes_on_a_retry_are_kept() -> None:
    failed = _by_statement(_rows("tests.results", result(1, "t", "failed", 0).to_json()))
    retried = _by_statement(
        _rows("tests.results", result(2, "t", "passed", 0, attempt=2).to_json())
    )
    assert failed["test_results"][0]["failure_reason"] == "AssertionError"
    assert failed["tests_seen"][0]["last_failure_at"] is not None
    assert retried["test_results"][0]["attempt"] == 2


def test_every_execution_is_kept_when_asked() -> None:
    value = result(1, "t", "passed", 0).to_json()
    rows = _by_statement(_rows("tests.results", value, store_all_executions=True))
    assert rows["test_results"][0]["build_id"] == "b1"


def test_a_suite_gets_its_service_from_the_policy() -> None:
    value = result(1, "t", "passed", 0).to_json()
    rows = _by_statement(
        _rows("tests.results", value, service_of_suite=lambda suite: f"svc-of-{suite}")
    )
    assert rows["tests_seen"][0]["service"] == "svc-of-payments-pytest"


def test_a_job_event_gives_a_weak_build_row_that_any_build_event_replaces() -> None:
    topic, key, message = next(m for m in stream() if m[0] == "buildkite.jobs")
    rows = _by_statement(_rows(topic, raw(message), key))
    (ref,) = rows["build_refs"]
    assert ref["event_id"] == ""
    assert ref["event_at"] == rows["jobs"][0]["event_at"]
    assert rows["jobs"][0]["build_id"] == ref["id"]


def test_a_retry_names_the_job_it_retries() -> None:
    retried = [m for m in stream() if m[0] == "buildkite.jobs"][1]
    rows = _by_statement(_rows(retried[0], raw(retried[2])))
    assert rows["jobs"][0]["retry_source_job_id"] == "j1"
    assert rows["jobs"][0]["retry_type"] == "automatic"


def test_flakiness_state_gives_the_test_its_episode_and_evidence() -> None:
    states = [m for m in stream() if m[0] == "flakiness.state"]
    flagged = _by_statement(_rows("flakiness.state", raw(states[0][2])))
    cleared = _by_statement(_rows("flakiness.state", raw(states[1][2])))
    assert flagged["tests_state"][0]["status"] == "flaky"
    assert flagged["flaky_episodes"][0]["recovered_at"] is None
    assert cleared["flaky_episodes"][0]["recovered_at"] is not None
    assert flagged["flaky_evidence"][0]["id"] == cleared["flaky_evidence"][0]["id"]


def test_a_tombstone_on_flakiness_state_writes_nothing() -> None:
    assert _rows("flakiness.state", None) == []


def test_an_alert_row_keeps_the_whole_alert_and_its_kafka_key() -> None:
    topic, key, message = next(m for m in stream() if m[0] == "alerts")
    (row,) = _rows(topic, raw(message), key)
    assert row.values["subject"] == key.decode()
    assert row.values["body"]["alert_id"] == row.values["alert_id"]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"{not json", "json"),
        (b'{"alert_id": "a"}', "schema"),
        (b"[]", "schema"),
        (None, "tombstone"),
    ],
)
def test_unreadable_values_are_poison_of_their_kind(value: bytes | None, kind: str) -> None:
    with pytest.raises(Poison) as caught:
        _rows("alerts", value)
    assert caught.value.kind == kind
