"""Timelines of failures, deploys and incidents, and the alerts they must give."""

from __future__ import annotations

from datetime import timedelta
from itertools import permutations

import pytest

from services.correlator.correlate import Correlator
from services.correlator.observations import Observation
from services.correlator.windows import Windows
from tests.unit.correlator.timeline import (
    SERVICE,
    at,
    deploy,
    failure,
    incident,
    play,
    suite_run,
)

LINED_UP: list[Observation] = [failure(10), deploy(0), incident(25)]


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_every_arrival_order_of_the_same_three_events_gives_exactly_one_alert(
    order: tuple[int, ...],
) -> None:
    alerts = play([LINED_UP[i] for i in order])
    assert len(alerts) == 1
    reference = play(LINED_UP)[0]
    assert alerts[0].model_dump(exclude={"created_at"}) == reference.model_dump(
        exclude={"created_at"}
    )


def test_the_alert_names_service_severity_reasons_and_links() -> None:
    (alert,) = play(LINED_UP)
    assert alert.kind == "failure_deploy_incident"
    assert alert.severity == "critical"
    assert alert.service == SERVICE
    assert alert.links == {
        "build": "https://buildkite.com/acme/payments-api/builds/1",
        "deploy": "https://deploys.example.com/d1",
        "incident": "https://acme.pagerduty.com/incidents/i1",
    }
    assert [r.split(":")[0] for r in alert.reasons] == [
        "same service",
        "same commit",
        "time",
        "time",
    ]
    assert alert.summary == (
        'payments-api: incident "Checkout 500s" opened 25 min after deploy a1b2c3d; '
        "payments-api #1 failed on main 10 min after it"
    )
    assert "\n" not in alert.summary
    assert alert.failing_tests_known_flaky is None
    assert alert.incident["opened_at"] == "2026-08-01T10:25:00Z"
    assert alert.score is not None
    assert 0.9 < alert.score <= 1.0


# (name, events) where nothing lines up.
OUTSIDE: list[tuple[str, list[Observation]]] = [
    ("deploy 61 min before the failure", [failure(61), deploy(0), incident(70)]),
    ("deploy 61 min after the failure", [failure(0), deploy(61), incident(70)]),
    ("incident 121 min after the deploy", [failure(10), deploy(0), incident(121)]),
    ("incident before the deploy", [failure(10), deploy(30), incident(29)]),
    ("no failure at all", [deploy(0), incident(25)]),
    ("no deploy at all", [failure(0), incident(25)]),
    ("no incident at all", [failure(0), deploy(5)]),
]


@pytest.mark.parametrize(("name", "events"), OUTSIDE, ids=[n for n, _ in OUTSIDE])
def test_events_outside_the_windows_give_no_alert_in_any_order(
    name: str, events: list[Observation]
) -> None:
    for order in permutations(events):
        assert play(list(order)) == [], name


def test_the_window_edges_are_inclusive() -> None:
    assert len(play([failure(60), deploy(0), incident(120)])) == 1
    assert len(play([failure(-60), deploy(0), incident(0)])) == 1


def test_every_window_is_a_setting() -> None:
    narrow = Windows(failure=timedelta(minutes=5), incident=timedelta(minutes=10))
    assert play(LINED_UP, Correlator(narrow)) == []
    assert len(play([failure(4), deploy(0), incident(9)], Correlator(narrow))) == 1


TWO_DEPLOYS: list[Observation] = [
    failure(30, commit="ffff000011112222"),
    deploy(0, ident="old", commit="1111222233334444"),
    deploy(20, ident="culprit", commit="ffff000011112222"),
    incident(40),
]


def test_two_deploys_before_one_incident_are_ranked() -> None:
    events = TWO_DEPLOYS
    (old, culprit) = sorted(play(events), key=lambda a: a.deploy["deploy_id"], reverse=True)
    assert (culprit.deploy["rank"], culprit.deploy["candidates"]) == (1, 2)
    assert (old.deploy["rank"], old.deploy["candidates"]) == (2, 2)
    assert culprit.score is not None
    assert old.score is not None
    assert culprit.score > old.score
    assert "same commit: ffff00001111 failed and was deployed" in culprit.reasons
    assert "(candidate 2 of 2)" in old.summary
    assert "candidate" not in culprit.summary


def test_two_candidate_deploys_give_two_alerts_with_the_same_scores_in_any_order() -> None:
    events = TWO_DEPLOYS
    expected = {a.alert_id: a.score for a in play(events)}
    for order in permutations(events):
        assert {a.alert_id: a.score for a in play(list(order))} == expected


def test_a_deploy_of_a_dependency_lines_up_with_a_lower_score() -> None:
    (own,) = play(LINED_UP)
    (dep,) = play([failure(10), deploy(0, of="ledger"), incident(25)])
    assert dep.reasons[0] == "dependency: payments-api depends on ledger, which was deployed"
    assert dep.deploy["service"] == "ledger"
    assert "after deploy a1b2c3d of ledger (a dependency);" in dep.summary
    assert own.score is not None
    assert dep.score is not None
    assert dep.score < own.score


def test_a_failure_explained_by_known_flaky_tests_gives_a_warning() -> None:
    runs = [
        suite_run(failed=("test_a", "test_b"), flaky=("test_a", "test_b")),
    ]
    for order in permutations(LINED_UP):
        (alert,) = play([*runs, *order])
        assert alert.severity == "warning"
        assert alert.failing_tests_known_flaky is True
        assert "(failing tests all known flaky)" in alert.summary


def test_a_failure_with_one_real_failing_test_stays_critical() -> None:
    (alert,) = play([suite_run(failed=("test_a", "test_b"), flaky=("test_a",)), *LINED_UP])
    assert alert.severity == "critical"
    assert alert.failing_tests_known_flaky is False


def test_a_failure_with_more_failed_tests_than_listed_stays_critical() -> None:
    # tests.runs names at most 100 failed tests; the other 50 may be real failures
    listed = tuple(f"test_{n}" for n in range(100))
    (alert,) = play([suite_run(failed=listed, flaky=listed, count=150), *LINED_UP])
    assert alert.severity == "critical"
    assert alert.failing_tests_known_flaky is False


def test_a_run_without_a_failed_count_is_not_taken_as_complete() -> None:
    (alert,) = play([suite_run(failed=("test_a",), flaky=("test_a",), count=None), *LINED_UP])
    assert alert.severity == "critical"
    assert alert.failing_tests_known_flaky is False


def test_a_real_failure_is_preferred_over_a_flaky_one() -> None:
    events: list[Observation] = [
        suite_run(build="b1", failed=("test_a",), flaky=("test_a",)),
        failure(10, build="b1"),
        failure(15, build="b2"),
        deploy(0),
        incident(25),
    ]
    (alert,) = play(events)
    assert alert.severity == "critical"
    assert alert.failure["build_id"] == "b2"


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_duplicates_change_nothing(order: tuple[int, ...]) -> None:
    events = [LINED_UP[i] for i in order]
    correlator = Correlator()
    first = play(events + events[:1], correlator)
    assert len(first) == 1
    for n, event in enumerate(events):
        step = correlator.observe(event, at(48 * 60 + n))
        assert step.alerts == []
        assert step.changes == []


def test_a_second_incident_after_the_same_deploy_gets_its_own_alert() -> None:
    alerts = play([*LINED_UP, incident(50, ident="i2")])
    assert [a.incident["incident_id"] for a in alerts] == ["i1", "i2"]
    assert len({a.alert_id for a in alerts}) == 2


def test_a_started_deploy_that_later_succeeds_is_one_deploy() -> None:
    alerts = play(
        [failure(10), deploy(0, state="succeeded"), deploy(0, state="started"), incident(25)]
    )
    assert len(alerts) == 1
    assert alerts[0].deploy["state"] == "succeeded"


def test_events_older_than_the_retention_are_dropped_and_old_state_forgotten() -> None:
    correlator = Correlator(Windows(retention=timedelta(hours=4)))
    play([failure(10), deploy(0)], correlator)
    step = correlator.observe(incident(5 * 60), at(5 * 60))
    assert step.alerts == []
    state = correlator.services[SERVICE]
    assert state.failures == {}
    assert state.deploys == {}
    assert sum(1 for _, value in step.changes if value is None) == 2
    late = correlator.observe(deploy(30, ident="late"), at(5 * 60 + 1))
    assert late.alerts == []
    assert "deploy:late" not in state.deploys
    assert correlator.too_late == 1


def test_the_clock_does_not_run_ahead_of_when_events_were_read() -> None:
    correlator = Correlator(Windows(retention=timedelta(hours=4)))
    play([failure(10), deploy(0)], correlator)
    far_future = incident(10 * 24 * 60)
    correlator.observe(far_future, at(30))  # a bogus timestamp, read at 10:30
    assert correlator.services[SERVICE].deploys  # nothing was forgotten because of it
