"""Evidence read off a window: same commit both ways, job retries, transition rate, outages."""

from __future__ import annotations

from services.flakiness.evidence import Found, find, summarize
from services.flakiness.execution import Context, Execution
from services.flakiness.settings import FlakinessSettings
from services.flakiness.window import Contexts, Window
from tests.unit.flakiness.timeline import T0, days, job, result, settings


def window_of(*executions: Execution, size: int = 50) -> Window:
    window = Window(Contexts())
    for execution in executions:
        window.add(execution, size, days(14))
    return window


def evidence(
    *executions: Execution,
    config: FlakinessSettings | None = None,
    outage: frozenset[str] = frozenset(),
) -> list[Found]:
    def is_outage(context: Context) -> bool:
        return context.build_id in outage

    return find(window_of(*executions), config or settings(), is_outage)


def test_a_rerun_that_passes_in_the_same_job_is_same_commit_evidence() -> None:
    found = evidence(
        result(T0, failed=True, attempt=1, job="j1"),
        result(T0, failed=False, attempt=2, job="j1"),
    )
    assert [(f.kind, f.detail) for f in found] == [
        ("same_commit", "failed, then passed on a rerun in the same job of build #1")
    ]


def test_a_test_passing_in_a_job_retry_of_the_same_build_is_job_retry_evidence() -> None:
    found = evidence(
        result(T0, failed=True, job="j1"),
        result(T0 + 60, failed=False, job="j2"),
    )
    assert [f.kind for f in found] == ["job_retry"]
    assert found[0].failed.job_id == "j1"
    assert found[0].passed.job_id == "j2"
    assert found[0].at == T0 + 60


def test_same_commit_evidence_is_as_new_as_the_newest_execution_of_the_commit() -> None:
    found = evidence(
        result(T0 + 600, failed=False, build="8", commit="abc"),
        result(T0, failed=True, build="7", commit="abc"),
        result(T0 + 900, failed=True, build="9", commit="abc"),
    )
    assert [f.at for f in found] == [T0 + 900]


def test_another_build_of_the_same_commit_passing_is_same_commit_evidence() -> None:
    found = evidence(
        result(T0, failed=True, build="7", commit="abc123"),
        result(T0 + 600, failed=False, build="8", commit="abc123"),
    )
    assert [(f.kind, f.detail) for f in found] == [
        ("same_commit", "commit abc123 failed in build #7 and passed in build #8")
    ]


def test_different_commits_failing_and_passing_are_not_evidence() -> None:
    assert (
        evidence(
            result(T0, failed=True, build="7", commit="a"),
            result(T0 + 600, failed=False, build="8", commit="b"),
        )
        == []
    )


def test_the_closest_pair_explains_a_commit() -> None:
    found = evidence(
        result(T0, failed=True, build="7", job="j1"),
        result(T0 + 900, failed=False, build="8", job="j9"),
        result(T0 + 60, failed=False, build="7", job="j1", attempt=2),
    )
    assert len(found) == 1
    assert found[0].detail.startswith("failed, then passed on a rerun in the same job")


def test_a_failed_job_whose_automatic_retry_passed_is_evidence_for_its_step() -> None:
    found = evidence(
        job(T0, failed=True, build="5", job="job-a"),
        job(T0 + 120, failed=False, build="5", job="job-b", retry_type="automatic"),
    )
    assert [(f.kind, f.retry_type) for f in found] == [("job_retry", "automatic")]
    assert found[0].detail == "failed, then passed on an automatic retry of the job in build #5"


def test_retry_types_not_configured_are_not_evidence() -> None:
    only_automatic = settings(retry_types="automatic")
    executions = (
        job(T0, failed=True, build="5", job="job-a"),
        job(T0 + 120, failed=False, build="5", job="job-b", retry_type="manual"),
    )
    assert evidence(*executions, config=only_automatic) == []
    assert [f.retry_type for f in evidence(*executions)] == ["manual"]


def test_parallel_shards_of_a_step_are_not_compared() -> None:
    assert (
        evidence(
            job(T0, failed=True, build="5", job="job-a", shard=0),
            job(T0, failed=False, build="5", job="job-b", shard=1),
        )
        == []
    )


def alternating(n: int, branch: str = "main") -> list[Execution]:
    return [
        result(T0 + days(i / 10), failed=i % 3 == 0, build=str(i), commit=f"c{i}", branch=branch)
        for i in range(n)
    ]


def test_a_high_transition_rate_on_the_default_branch_is_evidence() -> None:
    found = evidence(*alternating(12))
    assert [f.kind for f in found] == ["transition_rate"]
    assert found[0].detail == "7 flips in 12 builds on main (rate 0.58 > 0.2)"
    assert found[0].at == T0 + days(1.1)  # the newest build in the series
    assert (found[0].failed.build_number, found[0].passed.build_number) == ("9", "10")


def test_a_build_that_failed_then_passed_on_rerun_counts_as_passed_in_the_series() -> None:
    executions = [result(T0 + i, failed=False, build=str(i), commit=f"c{i}") for i in range(10)]
    executions.append(result(T0 + 3, failed=True, build="3", commit="c3", attempt=0))
    found = evidence(*executions, config=settings(transition_threshold=0.1))
    assert [f.kind for f in found] == ["same_commit"]


def test_transition_rate_needs_the_minimum_number_of_runs() -> None:
    assert evidence(*alternating(9)) == []


def test_transition_rate_counts_only_the_default_branch() -> None:
    assert evidence(*alternating(12, branch="feature/x")) == []


def test_one_break_fixed_by_the_next_commit_is_not_above_the_default_rate() -> None:
    outcomes = [False] * 4 + [True] + [False] * 5  # two flips in ten builds: 0.2
    executions = [
        result(T0 + i, failed=f, build=str(i), commit=f"c{i}") for i, f in enumerate(outcomes)
    ]
    assert evidence(*executions) == []
    assert evidence(*executions, config=settings(transition_threshold=0.19)) != []


def test_executions_of_an_outage_run_are_not_evidence() -> None:
    executions = (
        result(T0, failed=True, build="7", commit="abc"),
        result(T0 + 600, failed=False, build="8", commit="abc"),
    )
    assert evidence(*executions, outage=frozenset({"build-7"})) == []
    assert evidence(*executions) != []


def test_summary_counts_flips_in_event_time_order_not_arrival_order() -> None:
    window = window_of(
        result(T0 + 3, failed=False, build="3"),
        result(T0 + 1, failed=False, build="1"),
        result(T0 + 2, failed=True, build="2"),
    )
    summary = summarize(window)
    assert (summary.runs, summary.failures, summary.flips, summary.score) == (3, 1, 2, 1.0)
