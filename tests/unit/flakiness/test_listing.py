"""``kitestream flaky list``: which states are shown and how."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas.flakiness import Evidence, FlakinessState
from services.cli import build_parser
from services.flakiness.listing import render_json, render_table, select

AT = datetime(2027, 1, 15, 11, 0, tzinfo=UTC)


def state(
    key: str, score: float, *, status: str = "flaky", suite: str | None = "pytest"
) -> FlakinessState:
    evidence = Evidence(
        kind="same_commit",
        at=AT,
        commit="c3",
        urls=[f"https://buildkite.com/acme/payments-api/builds/3#{key}"],
        detail="failed, then passed on a rerun",
    )
    return FlakinessState(
        key=key,
        kind="test",
        suite=suite,
        name=key,
        runs=10,
        failures=2,
        flips=3,
        score=score,
        status=status,
        since=AT,
        evidence=[evidence] if status == "flaky" else [],
        updated_at=AT,
    )


STATES = [
    state("pytest/a", 0.2),
    state("pytest/b", 0.5),
    state("pytest/c", 0.0, status="stable"),
    state("jest/d", 0.9, suite="jest"),
]


def test_only_flaky_ones_of_the_suite_are_selected_highest_score_first() -> None:
    assert [s.key for s in select(STATES, suite="pytest")] == ["pytest/b", "pytest/a"]
    assert [s.key for s in select(STATES)] == ["jest/d", "pytest/b", "pytest/a"]
    assert len(select(STATES, everything=True)) == 4


def test_the_table_shows_score_since_test_and_the_last_evidence_link() -> None:
    lines = render_table(select(STATES, suite="pytest")).splitlines()
    assert lines[0].split() == ["SCORE", "STATUS", "SINCE", "TEST", "LAST", "EVIDENCE"]
    assert lines[1].split() == [
        "0.50",
        "flaky",
        "2027-01-15",
        "11:00",
        "pytest/b",
        "https://buildkite.com/acme/payments-api/builds/3#pytest/b",
    ]


def test_an_empty_list_says_so() -> None:
    assert render_table([]) == "no flaky tests\n"


def test_json_output_is_the_state_records() -> None:
    listed = orjson.loads(render_json(select(STATES, suite="jest")))
    assert [(s["key"], s["score"], s["status"]) for s in listed] == [("jest/d", 0.9, "flaky")]


def test_the_commands_are_registered_with_help() -> None:
    parser = build_parser()
    args = parser.parse_args(["flaky", "list", "--suite", "pytest", "--json"])
    assert (args.suite, args.json) == ("pytest", True)
    args = parser.parse_args(["flakiness", "--instance-id", "a"])
    assert args.instance_id == "a"
