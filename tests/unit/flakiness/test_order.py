"""Arrival order does not change the outcome (hypothesis properties on the core).

* Any arrival order of the same executions gives the same flags and the same alerts,
  for same-commit evidence (the only kind that is a property of the set alone).
* Any order *within each commit* gives the same flags and alerts with both kinds of
  evidence, as long as commits themselves arrive in order.
* Duplicates anywhere change nothing, clearing and outages included.

Clearing counts executions as they arrive, so a clear that falls among the executions
of one commit can come one execution earlier or later; the first two properties hold
with clearing out of reach (docs/flakiness.md says so).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from services.flakiness.execution import Execution, TestSubject
from services.flakiness.settings import FlakinessSettings
from services.flakiness.tracker import Tracker
from tests.thorough import examples
from tests.unit.flakiness.timeline import SUBJECT, T0, result
from tests.unit.flakiness.timeline import settings as config

SUBJECTS = [SUBJECT, *(TestSubject("pytest", "s", f"t{i}", None) for i in range(2))]


@st.composite
def commits(draw: st.DrawFn, branch: st.SearchStrategy[str]) -> list[list[Execution]]:
    """Executions grouped by commit; commit *i* runs between hours *i* and *i* + 1."""
    groups = []
    for c in range(draw(st.integers(1, 12))):
        group = []
        on = draw(branch)
        for n in range(draw(st.integers(1, 6))):
            subject = draw(st.sampled_from(SUBJECTS))
            build = draw(st.integers(0, 1))
            attempt = draw(st.integers(1, 2))
            minute = draw(st.integers(0, 59))
            group.append(
                result(
                    T0 + c * 3600 + minute * 60,
                    failed=draw(st.booleans()),
                    build=f"{c}-{build}",
                    commit=f"c{c}",
                    subject=subject,
                    attempt=attempt,
                    job=f"job-{c}-{build}-{draw(st.integers(0, 1))}",
                    branch=on,
                    event=f"e{c}-{n}",
                )
            )
        groups.append(group)
    return groups


def outcome(executions: list[Execution], settings: FlakinessSettings) -> tuple[object, ...]:
    tracker = Tracker(settings)
    alerts: list[tuple[str, str, int]] = []
    for execution in executions:
        changes = tracker.add(execution)
        if changes is not None:
            alerts.extend((a.subject.key, a.change, a.episode) for a in changes.alerts)
        for run in tracker.runs.runs.values():  # the incremental count stays right
            assert run.failed_tests == len(run.failed_subjects())
    flags = {s.key: (e.flaky, e.meta.episodes if e.meta else 0) for s, e in tracker.entries.items()}
    return sorted(alerts), flags


NO_OUTAGES = {"outage_min_tests": 10_000}


@settings(max_examples=examples(100))
@given(commits(st.just("feature/x")), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_flags_and_alerts(
    groups: list[list[Execution]], rnd: random.Random
) -> None:
    executions = [e for group in groups for e in group]
    shuffled = rnd.sample(executions, len(executions))
    settings = config(**NO_OUTAGES, clear_after_runs=10_000)
    assert outcome(shuffled, settings) == outcome(executions, settings)


@settings(max_examples=examples(100))
@given(commits(st.sampled_from(["main", "main", "feature/x"])), st.randoms(use_true_random=False))
def test_any_order_within_each_commit_gives_the_same_flags_and_alerts(
    groups: list[list[Execution]], rnd: random.Random
) -> None:
    settings = config(**NO_OUTAGES, transition_min_runs=4, clear_after_runs=10_000)
    in_order = [e for group in groups for e in group]
    shuffled = [e for group in groups for e in rnd.sample(group, len(group))]
    assert outcome(shuffled, settings) == outcome(in_order, settings)


@settings(max_examples=examples(100))
@given(commits(st.sampled_from(["main", "feature/x"])), st.randoms(use_true_random=False))
def test_duplicates_anywhere_change_nothing(
    groups: list[list[Execution]], rnd: random.Random
) -> None:
    settings = config(transition_min_runs=4, clear_after_runs=3, outage_min_tests=2)
    executions = [e for group in groups for e in group]
    with_duplicates = list(executions)
    for execution in rnd.sample(executions, len(executions) // 2):
        with_duplicates.insert(
            rnd.randrange(with_duplicates.index(execution) + 1, len(with_duplicates) + 1), execution
        )
    assert outcome(with_duplicates, settings) == outcome(executions, settings)
