"""Scenarios through the tracker, with explicit event times: flag, clear, outages, steps."""

from __future__ import annotations

from services.flakiness.execution import Execution
from services.flakiness.settings import FlakinessSettings
from services.flakiness.tracker import Changes, Tracker
from tests.unit.flakiness.timeline import OTHER, STEP, SUBJECT, T0, days, job, result, settings


def feed(tracker: Tracker, *executions: Execution) -> list[Changes]:
    return [c for c in (tracker.add(e) for e in executions) if c is not None]


def alerts(changes: list[Changes]) -> list[tuple[str, int]]:
    return [(a.change, a.episode) for c in changes for a in c.alerts]


def flaky_pair(at: float, build: str, commit: str) -> tuple[Execution, Execution]:
    """A failure and a passing rerun in the same job."""
    return (
        result(at, failed=True, build=build, commit=commit, attempt=1),
        result(at, failed=False, build=build, commit=commit, attempt=2),
    )


def passes(start: float, n: int, step: float = 60.0, first_build: int = 100) -> list[Execution]:
    return [
        result(start + i * step, failed=False, build=str(first_build + i), commit=f"p{i}")
        for i in range(n)
    ]


def test_a_failure_that_passes_on_rerun_flags_the_test_once() -> None:
    tracker = Tracker(settings())
    changes = feed(tracker, *flaky_pair(T0, "1", "c1"), *flaky_pair(T0 + 60, "2", "c2"))
    assert alerts(changes) == [("flagged", 1)]
    meta = tracker.entries[SUBJECT].meta
    assert meta is not None
    assert meta.flaky
    assert meta.since == T0
    assert meta.last_evidence_at == T0 + 60
    assert [e.commit for e in meta.evidence] == ["c1", "c2"]


def test_a_flag_clears_after_the_configured_number_of_executions_without_evidence() -> None:
    tracker = Tracker(settings(clear_after_runs=20))
    changes = feed(tracker, *flaky_pair(T0, "1", "c1"), *passes(T0 + 60, 19))
    assert alerts(changes) == [("flagged", 1)]
    last = feed(tracker, *passes(T0 + days(1), 1, first_build=500))
    assert alerts(last) == [("cleared", 1)]
    assert not tracker.entries[SUBJECT].flaky


def test_a_flag_clears_after_the_configured_days_without_evidence() -> None:
    tracker = Tracker(settings())
    feed(tracker, *flaky_pair(T0, "1", "c1"))
    assert alerts(feed(tracker, *passes(T0 + days(6.9), 1))) == []
    assert alerts(feed(tracker, *passes(T0 + days(7), 1, first_build=200))) == [("cleared", 1)]


def test_new_evidence_keeps_a_flag_up() -> None:
    tracker = Tracker(settings(clear_after_runs=5))
    feed(tracker, *flaky_pair(T0, "1", "c1"), *passes(T0 + 60, 3))  # 4 without evidence
    changes = feed(tracker, *flaky_pair(T0 + 600, "2", "c2"), *passes(T0 + 900, 4, first_build=300))
    assert alerts(changes) == []
    assert tracker.entries[SUBJECT].flaky


def test_old_evidence_still_in_the_window_does_not_flag_again_but_new_evidence_does() -> None:
    tracker = Tracker(settings(clear_after_runs=3))
    first = feed(tracker, *flaky_pair(T0, "1", "c1"), *passes(T0 + 60, 4))
    assert alerts(first) == [("flagged", 1), ("cleared", 1)]
    assert alerts(feed(tracker, *passes(T0 + 600, 5, first_build=300))) == []
    again = feed(tracker, *flaky_pair(T0 + 3600, "9", "c9"))
    assert alerts(again) == [("flagged", 2)]


def test_a_run_where_most_tests_failed_is_an_outage_and_not_evidence() -> None:
    tracker = Tracker(settings(outage_min_tests=5))
    others = [OTHER.__class__(OTHER.suite, OTHER.scope, f"test_{i}", OTHER.file) for i in range(4)]
    outage = [result(T0, failed=True, build="7", commit="c7", subject=s) for s in others]
    outage.append(result(T0, failed=True, build="7", commit="c7"))
    rebuild = [result(T0 + 600, failed=False, build="8", commit="c7", subject=s) for s in others]
    rebuild.append(result(T0 + 600, failed=False, build="8", commit="c7"))
    changes = feed(tracker, *outage, *rebuild)
    assert alerts(changes) == []
    run = tracker.runs.get(("build-7", "pytest"))
    assert run is not None
    assert run.is_outage(tracker.settings)


def test_a_run_that_stops_looking_like_an_outage_has_its_failures_judged_again() -> None:
    config = settings(outage_min_tests=2, outage_fraction=0.8)
    tracker = Tracker(config)
    feed(tracker, result(T0, failed=False, build="6", commit="c7"))  # passed on c7 before
    failing = feed(
        tracker,
        result(T0 + 60, failed=True, build="7", commit="c7"),
        result(T0 + 60, failed=True, build="7", commit="c7", subject=OTHER),
    )
    assert alerts(failing) == [("flagged", 1)]  # one result in: not an outage yet
    tracker = Tracker(config)
    feed(tracker, result(T0, failed=False, build="6", commit="c7"))
    outage_first = feed(
        tracker,
        result(T0 + 60, failed=True, build="7", commit="c7", subject=OTHER),
        result(T0 + 60, failed=True, build="7", commit="c7"),
    )
    assert alerts(outage_first) == []  # 2 of 2 failed: an outage
    recovered = feed(
        tracker,
        *[
            result(T0 + 60, failed=False, build="7", commit="c7", subject=s)
            for s in (OTHER.__class__("pytest", "x", f"t{i}", None) for i in range(3))
        ],
    )
    assert [(a.subject, a.change) for c in recovered for a in c.alerts] == [(SUBJECT, "flagged")]


def test_duplicates_change_nothing() -> None:
    tracker = Tracker(settings())
    first, rerun = flaky_pair(T0, "1", "c1")
    assert tracker.add(first) is not None
    assert tracker.add(first) is None
    assert tracker.add(rerun) is not None
    assert tracker.add(rerun) is None
    assert tracker.add(first) is None


def test_a_step_whose_failed_job_passed_on_automatic_retry_is_flagged() -> None:
    tracker = Tracker(settings())
    changes = feed(
        tracker,
        job(T0, failed=True, build="3", job="job-1"),
        job(T0 + 90, failed=False, build="3", job="job-2", retry_type="automatic"),
    )
    assert [(a.subject, a.change) for c in changes for a in c.alerts] == [(STEP, "flagged")]
    meta = tracker.entries[STEP].meta
    assert meta is not None
    assert meta.evidence[0].job_ids == ["job-1", "job-2"]
    assert meta.evidence[0].retry_type == "automatic"


def test_a_subject_idle_for_a_whole_window_is_dropped_and_its_flag_cleared() -> None:
    tracker = Tracker(settings())
    feed(tracker, *flaky_pair(T0, "1", "c1"))
    feed(tracker, result(T0, failed=False, subject=OTHER))
    later = feed(
        tracker, result(T0 + days(15), failed=False, build="9", commit="c9", subject=OTHER)
    )
    assert alerts(later) == [("cleared", 1)]
    assert len(tracker.entries[SUBJECT]) == 0
    assert [e.subject for e in later[0].cleared] == [SUBJECT]
    assert tracker.entries[SUBJECT].meta is not None  # episodes are remembered


def test_runs_list_failed_tests_and_which_of_them_are_known_flaky() -> None:
    tracker = Tracker(settings())
    feed(tracker, *flaky_pair(T0, "1", "c1"))
    changes = feed(
        tracker,
        result(T0 + 600, failed=True, build="2", commit="c2"),
        result(T0 + 600, failed=True, build="2", commit="c2", subject=OTHER),
    )
    assert [r for c in changes for r in c.runs] == [("build-2", "pytest")] * 2
    run = tracker.runs.get(("build-2", "pytest"))
    assert run is not None
    assert run.failed_subjects() == [OTHER, SUBJECT]
    assert tracker.entries[SUBJECT].flaky
    assert not tracker.entries[OTHER].flaky


def test_every_number_is_a_setting(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("KITESTREAM_FLAKINESS_WINDOW_SIZE", "20")
    monkeypatch.setenv("KITESTREAM_FLAKINESS_DEFAULT_BRANCHES", "trunk, develop")
    monkeypatch.setenv("KITESTREAM_FLAKINESS_CLEAR_AFTER_DAYS", "3.5")
    config = FlakinessSettings()
    assert config.window_size == 20
    assert config.default_branches == ["trunk", "develop"]
    assert config.clear_after_s == days(3.5)
