"""bktec test plans with quarantine: skipped tests left out of every task, muted ones
listed in both scope forms, files holding skipped tests split into examples."""

from __future__ import annotations

from typing import Any

from services.quarantine.client import Quarantined
from services.quarantine.testplan import (
    Durations,
    PlanRequest,
    build_plan,
    files_to_split,
    junit_scope,
    quarantined_files,
    split,
)


def _q(scope: str, name: str, state: str, file: str | None = None) -> Quarantined:
    return Quarantined(f"s/{scope}/{name}", "s", scope, name, file, state, "r", "a", None)


def _example(path: str) -> dict[str, str]:
    scope, _, name = path.rpartition("::")
    return {"path": path, "scope": scope, "name": name, "identifier": path, "format": "example"}


def _paths(plan: dict[str, Any]) -> list[list[str]]:
    return [[t["path"] for t in plan["tasks"][str(i)]["tests"]] for i in range(plan["parallelism"])]


def test_junit_scope_is_bktecs_conversion_of_the_collectors_scope() -> None:
    assert junit_scope("test_sample.py") == "test_sample"
    assert junit_scope("tests/test_auth.py::TestLogin") == "tests.test_auth.TestLogin"
    assert junit_scope("tests/test_auth.py::TestA::TestB") == "tests.test_auth.TestA.TestB"
    assert junit_scope("tests.test_auth.TestLogin") == "tests.test_auth.TestLogin"


def test_a_skipped_example_is_left_out_whichever_scope_form_either_side_uses() -> None:
    request = PlanRequest.model_validate(
        {"identifier": "b/s", "parallelism": 1, "tests": {"examples": [
            _example("test_a.py::test_ok"), _example("test_a.py::test_hangs"),
            _example("test_b.py::TestX::test_slow"),
        ]}}
    )  # fmt: skip
    skipped = [
        _q("test_a", "test_hangs", "skipped"),
        _q("test_b.py::TestX", "test_slow", "skipped"),
    ]
    plan = build_plan(request, skipped)
    assert _paths(plan) == [["test_a.py::test_ok"]]
    assert {(t["scope"], t["name"]) for t in plan["skipped_tests"]} == {
        ("test_a", "test_hangs"),
        ("test_b.py::TestX", "test_slow"),
        ("test_b.TestX", "test_slow"),
    }
    assert plan["muted_tests"] == []


def test_muted_tests_stay_in_the_tasks_and_are_listed_in_both_scope_forms() -> None:
    request = PlanRequest.model_validate(
        {"parallelism": 1, "tests": {"selectors": [{"value": "test_a.py"}]}}
    )
    plan = build_plan(request, [_q("test_a.py", "test_wobbly", "muted")])
    assert plan["tasks"]["0"]["tests"] == [
        {"format": "selector", "value": "test_a.py", "path": "test_a.py"}
    ]
    assert plan["muted_tests"] == [
        {"format": "example", "scope": "test_a.py", "name": "test_wobbly",
         "path": "test_a.py::test_wobbly"},
        {"format": "example", "scope": "test_a", "name": "test_wobbly",
         "path": "test_a::test_wobbly"},
    ]  # fmt: skip


def test_tests_are_dealt_to_every_node_in_sorted_order() -> None:
    request = PlanRequest.model_validate(
        {"parallelism": 3, "identifier": "id",
         "tests": {"files": [{"path": f"t{i}.py"} for i in (4, 2, 0, 3, 1)]}}
    )  # fmt: skip
    plan = build_plan(request, [])
    assert _paths(plan) == [["t0.py", "t3.py"], ["t1.py", "t4.py"], ["t2.py"]]
    assert (plan["identifier"], plan["parallelism"]) == ("id", 3)


def test_no_parallelism_still_makes_one_task() -> None:
    plan = build_plan(PlanRequest.model_validate({"parallelism": 0}), [])
    assert plan["tasks"] == {"0": {"node_number": 0, "tests": []}}


def test_files_holding_skipped_tests_are_split_and_the_others_are_not() -> None:
    skipped = [_q("tests/test_a.py::TestX", "t", "skipped"), _q("c", "t", "skipped", "c.py")]
    files = ["tests/test_a.py", "tests/test_b.py", "c.py"]
    assert files_to_split(files, skipped) == ["tests/test_a.py", "c.py"]
    assert quarantined_files(skipped[0]) == {"tests/test_a.py"}


def test_a_skipped_test_whose_file_cannot_be_told_splits_every_file() -> None:
    files = ["tests/test_a.py", "tests/test_b.py"]
    assert files_to_split(files, [_q("tests.test_a", "t", "skipped")]) == files


def _files(plan: dict[str, Any]) -> list[set[str]]:
    return [set(paths) for paths in _paths(plan)]


def test_with_known_durations_the_longest_files_go_first_to_the_least_loaded_node() -> None:
    request = PlanRequest.model_validate(
        {"parallelism": 2, "tests": {"files": [{"path": f"t{i}.py"} for i in range(5)]}}
    )
    rows = [("t0.py", "a", 10.0), ("t1.py", "a", 6.0), ("t2.py", "a", 5.0), ("t3.py", "a", 3.0),
            ("t3.py", "b", 1.0), ("t4.py", "a", 1.0)]  # fmt: skip
    durations = Durations.of((file, name, file, seconds) for file, name, seconds in rows)
    plan = build_plan(request, [], durations)
    # LPT: 10 -> n0, 6 -> n1, 5 -> n1 (11), 4 (t3) -> n0 (14), 1 -> n1 (12)
    assert _files(plan) == [{"t0.py", "t3.py"}, {"t1.py", "t2.py", "t4.py"}]


def test_a_test_of_unknown_duration_counts_as_the_median_of_the_known() -> None:
    cases = [{"format": "file", "path": p} for p in ("a.py", "b.py", "c.py", "new.py")]
    durations = Durations.of([("a.py", "t", "a.py", 8.0), ("b.py", "t", "b.py", 2.0),
                              ("c.py", "t", "c.py", 3.0)])  # fmt: skip
    tasks = split(cases, 2, durations)
    # median 3: 8 -> n0, 3 (c) -> n1, 3 (new) -> n1, 2 -> n1
    assert [[c["path"] for c in t] for t in tasks] == [["a.py"], ["c.py", "new.py", "b.py"]]


def test_examples_are_weighed_by_their_own_durations_in_either_scope_form() -> None:
    durations = Durations.of([("tests.test_a", "slow", None, 9.0),
                              ("tests/test_a.py", "quick", "tests/test_a.py", 1.0)])  # fmt: skip
    slow = {"format": "example", "path": "tests/test_a.py::slow", "scope": "tests/test_a.py",
            "name": "slow"}  # fmt: skip
    quick = {"format": "example", "path": "tests/test_a.py::quick", "scope": "tests.test_a",
             "name": "quick"}  # fmt: skip
    assert durations.of_case(slow) == 9.0
    assert durations.of_case(quick) == 1.0
    assert durations.files == {"tests/test_a.py": 1.0}
