"""The partition task: contract messages in, changelog/state/alerts/runs out; restarts."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.alerts import Alert
from schemas.flakiness import FlakinessState, TestRun
from services.common.processor import Output, Record
from services.common.topics import Topics
from services.flakiness import BadRecord
from services.flakiness.settings import FlakinessSettings
from services.flakiness.task import FlakinessTask, TopicNames
from tests.unit.flakiness.stream import (
    CLEAR_AFTER_RUNS,
    Input,
    Project,
    expected_alert_ids,
    project_stream,
)

NAMES = TopicNames.under(Topics("t."))
CONFIG = FlakinessSettings(clear_after_runs=CLEAR_AFTER_RUNS)
PROJECTS = [Project("pytest", "payments-api"), Project("jest", "web")]


def records(inputs: list[Input]) -> list[Record]:
    topic = {"results": NAMES.results, "jobs": NAMES.jobs}
    return [Record(topic[i.topic], 0, n, i.key, i.value, 0) for n, i in enumerate(inputs)]


STREAM = records([i for p in PROJECTS for i in project_stream(p)])


def run(task: FlakinessTask, stream: list[Record]) -> list[Output]:
    return [out for record in stream for out in task.process(record)]


UNINTERRUPTED = run(FlakinessTask(0, NAMES, CONFIG), STREAM)


def on(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


def test_a_known_flaky_stream_gives_exactly_the_expected_alerts() -> None:
    outputs = run(FlakinessTask(0, NAMES, CONFIG), STREAM)
    alerts = [Alert.model_validate_json(o.value or b"") for o in on(outputs, NAMES.alerts)]
    assert Counter(a.alert_id for a in alerts) == Counter(expected_alert_ids(PROJECTS))
    kinds = Counter((a.kind, a.severity) for a in alerts)
    assert kinds == {("flaky_test", "warning"): 6, ("flaky_test_recovered", "info"): 6}
    rerun = next(a for a in alerts if a.test["name"] == "test_rerun" and a.kind == "flaky_test")
    assert rerun.summary == (
        "Flaky test in pytest: tests.test_checkout test_rerun — "
        "failed, then passed on a rerun in the same job of build #3"
    )
    assert rerun.links == {
        "evidence": "https://buildkite.com/acme/payments-api/builds/3#payments-api-job-3"
    }
    assert all(
        o.key == orjson.loads(o.value or b"{}")["test"]["key"].encode()
        for o in on(outputs, NAMES.alerts)
    )


def test_state_is_published_per_test_with_its_window_and_evidence() -> None:
    outputs = run(FlakinessTask(0, NAMES, CONFIG), STREAM[:70])  # builds 1-5 of payments-api
    latest = {o.key: o.value for o in on(outputs, NAMES.state)}
    state = FlakinessState.model_validate_json(
        latest[b"pytest/tests.test_checkout/test_rerun/tests/test_checkout.py"] or b""
    )
    assert state.status == "flaky"
    assert state.kind == "test"
    assert state.episodes == 1
    assert [e.kind for e in state.evidence] == ["same_commit"]
    assert state.evidence[0].urls == [
        "https://buildkite.com/acme/payments-api/builds/3#payments-api-job-3"
    ]


def test_runs_name_failed_tests_and_the_outage_for_the_correlator() -> None:
    outputs = run(FlakinessTask(0, NAMES, CONFIG), STREAM)
    runs = [TestRun.model_validate_json(o.value or b"") for o in on(outputs, NAMES.runs)]
    assert {o.key for o in on(outputs, NAMES.runs)} == {b"payments-api", b"web"}
    latest = {(r.build_id, r.suite): r for r in runs}
    outage = latest[("payments-api-build-8", "pytest")]
    assert outage.outage
    assert outage.failed_count == 12
    assert outage.build_number == "8"
    rebuild_fail = latest[("payments-api-build-5", "pytest")]
    assert rebuild_fail.failed_tests == [
        "pytest/tests.test_checkout/test_rebuild/tests/test_checkout.py"
    ]
    assert not rebuild_fail.outage
    rerun = latest[("payments-api-build-3", "pytest")]
    assert rerun.failed_tests == []  # failed, then passed on rerun


def replay(outputs: list[Output], compact: bool) -> list[tuple[bytes, bytes | None]]:
    log = [(o.key or b"", o.value) for o in on(outputs, NAMES.changelog)]
    if not compact:
        return log
    last = {key: n for n, (key, _) in enumerate(log)}
    return [entry for n, entry in enumerate(log) if last[entry[0]] == n]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), min_size=1, max_size=3), st.booleans())
def test_a_restart_anywhere_gives_the_same_outputs_as_an_uninterrupted_run(
    cuts: list[int], compact: bool
) -> None:
    expected = UNINTERRUPTED
    produced: list[Output] = []
    start = 0
    for cut in [*sorted(cuts), len(STREAM)]:
        task = FlakinessTask(0, NAMES, CONFIG)
        for key, value in replay(produced, compact):
            task.restore(key, value)
        produced.extend(run(task, STREAM[start:cut]))
        start = cut
    assert produced == expected


def test_duplicated_input_changes_no_output() -> None:
    once = run(FlakinessTask(0, NAMES, CONFIG), STREAM)
    twice = run(FlakinessTask(0, NAMES, CONFIG), [r for r in STREAM for _ in range(2)])
    assert twice == once


def test_skipped_results_and_jobs_that_did_not_finish_are_not_executions() -> None:
    task = FlakinessTask(0, NAMES, CONFIG)
    skipped = orjson.loads(STREAM[0].value or b"")
    skipped["result"] = "skipped"
    running = orjson.loads(next(r.value for r in STREAM if r.topic == NAMES.jobs) or b"")
    running["event"] = "job.started"
    for value, topic in ((skipped, NAMES.results), (running, NAMES.jobs)):
        assert task.process(Record(topic, 0, 0, b"k", orjson.dumps(value), 0)) == []
    assert task.tracker.entries == {}


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", b'{"result": "failed"}'])
def test_an_unreadable_record_is_refused_for_the_dead_letter_topic(value: bytes) -> None:
    task = FlakinessTask(0, NAMES, CONFIG)
    with pytest.raises(BadRecord):
        task.process(Record(NAMES.results, 0, 0, b"pytest", value, 0))


def test_an_unreadable_changelog_record_is_skipped_on_restore() -> None:
    task = FlakinessTask(0, NAMES, CONFIG)
    task.restore(b"garbage", b"{}")
    task.restore(b'["s","test","pytest","s","n",null,0]', b"{}")
    assert run(task, STREAM[:5]) == run(FlakinessTask(0, NAMES, CONFIG), STREAM[:5])


@pytest.mark.parametrize(
    "received_at",
    [
        "2027-01-15T08:00:00Z",
        "2027-01-15T08:00:00.000+00:00",
        "2027-01-15 08:00:00 UTC",
        "2027-01-15T08:00:00",
        1800000000.0,
    ],
)
def test_every_timestamp_form_buildkite_sends_is_read_as_utc(received_at: object) -> None:
    from services.flakiness.inputs import from_test_result

    value = orjson.loads(STREAM[0].value or b"")
    value["received_at"] = received_at
    execution = from_test_result(value, frozenset({"main"}))
    assert execution is not None
    assert execution.at == 1_800_000_000.0


SHORT = FlakinessSettings(clear_after_runs=CLEAR_AFTER_RUNS, window_days=0.5)
IDLE_STREAM = records(
    [*project_stream(Project("rspec", "ledger"), builds=8), *project_stream(PROJECTS[0])]
)
IDLE_UNINTERRUPTED = run(FlakinessTask(0, NAMES, SHORT), IDLE_STREAM)


def test_subjects_idle_for_a_whole_window_are_dropped_and_their_flags_cleared() -> None:
    dropped = [o for o in on(IDLE_UNINTERRUPTED, NAMES.changelog) if o.value is None]
    assert dropped  # the ledger project stopped after build 8: its windows went
    recovered = [
        Alert.model_validate_json(o.value or b"")
        for o in on(IDLE_UNINTERRUPTED, NAMES.alerts)
        if b"flaky_test_recovered" in (o.value or b"")
    ]
    assert any(
        a.test.get("suite") == "rspec" and a.reasons == ["no executions for a whole window"]
        for a in recovered
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, len(IDLE_STREAM)), st.booleans())
def test_a_restart_across_dropped_windows_gives_the_same_outputs(cut: int, compact: bool) -> None:
    first = run(FlakinessTask(0, NAMES, SHORT), IDLE_STREAM[:cut])
    task = FlakinessTask(0, NAMES, SHORT)
    for key, value in replay(first, compact):
        task.restore(key, value)
    assert first + run(task, IDLE_STREAM[cut:]) == IDLE_UNINTERRUPTED
