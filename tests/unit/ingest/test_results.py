"""Executions become tests.results messages: attempts, caps and stable event ids."""

from __future__ import annotations

from schemas.tests import RunEnv
from services.ingest.results import Execution, build_results, cap_failure, result_kind
from tests.unit.ingest.payloads import RECEIVED_AT


def _build(executions: list[Execution], key: str = "run-1") -> list[str]:
    results = build_results(
        executions, suite="s", upload_id="u", run_env=RunEnv(key=key), received_at=RECEIVED_AT
    )
    return [r.event_id for r in results]


def test_result_words_from_every_collector_map_to_the_four_kinds() -> None:
    assert [result_kind(w) for w in ("Passed", "error", "pending", "todo", "weird", None, 1)] == [
        "passed",
        "failed",
        "skipped",
        "skipped",
        "unknown",
        "unknown",
        "unknown",
    ]


def test_attempts_count_per_identity_not_per_upload() -> None:
    a, b = Execution(name="a", scope="S"), Execution(name="b", scope="S")
    results = build_results(
        [a, b, a, Execution(name="a", scope="T")],
        suite="s",
        upload_id="u",
        run_env=RunEnv(),
        received_at=RECEIVED_AT,
    )
    assert [r.attempt for r in results] == [1, 1, 2, 1]


def test_event_ids_differ_between_runs_and_executions_but_not_between_retries() -> None:
    runs = [Execution(name="a", result="failed"), Execution(name="a", result="passed")]
    first = _build(runs)
    assert first == _build(runs)
    assert len(set(first)) == 2
    assert set(first).isdisjoint(_build(runs, key="run-2"))


def test_failure_cap_keeps_whole_lines_until_the_budget_then_says_how_many_were_dropped() -> None:
    [detail] = cap_failure([(["aaaa", "bbbb", "cccc"], ["dd"])], max_chars=6)
    assert detail.expanded == ["aaaa", "b…", "… 2 more lines dropped by kitestream (size cap)"]
    assert detail.backtrace == []


def test_failure_under_the_cap_is_untouched() -> None:
    [detail] = cap_failure([(["x"], ["y"])], max_chars=100)
    assert (detail.expanded, detail.backtrace) == (["x"], ["y"])
