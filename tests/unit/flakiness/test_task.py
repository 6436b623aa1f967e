"""The partition task: contract messages in, changelog/state/alerts/runs out; restarts.

The runtime's batch step (:class:`~services.common.batch.BatchStep`, used here as the
runtime uses it) calls ``process`` per record and ``flush`` once per batch; a crash
loses the batch in hand, so a restart always resumes at a batch boundary, from the
changelog as Kafka kept it (compacted or not, tombstones or not).
"""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.alerts import Alert
from schemas.flakiness import FlakinessState, TestRun
from services.common.processor import BatchStep, Change, Output, Record
from services.common.topics import Topics
from services.flakiness import BadRecord
from services.flakiness.changelog import Changelog
from services.flakiness.execution import TestSubject
from services.flakiness.settings import FlakinessSettings
from services.flakiness.task import FlakinessTask, FlakinessTopics
from tests.thorough import examples
from tests.unit.flakiness.replay import compacted, snapshot, tiny_changelog
from tests.unit.flakiness.stream import (
    CLEAR_AFTER_RUNS,
    Input,
    Project,
    expected_alert_ids,
    project_stream,
)

NAMES = FlakinessTopics.under(Topics("t."))
CONFIG = FlakinessSettings(clear_after_runs=CLEAR_AFTER_RUNS)
PROJECTS = [Project("pytest", "payments-api"), Project("jest", "web")]


def records(inputs: list[Input]) -> list[Record]:
    topic = {"results": NAMES.results, "jobs": NAMES.jobs}
    return [Record(topic[i.topic], 0, n, i.key, i.value, 0) for n, i in enumerate(inputs)]


STREAM = records([i for p in PROJECTS for i in project_stream(p)])


STEP = BatchStep(service="flakiness", dlq_topic=NAMES.dlq, changelog_topic=NAMES.changelog)


def run(task: FlakinessTask, stream: list[Record], batch: int = 50) -> list[Output]:
    """Outputs as the runtime produces them, ``batch`` records a transaction."""
    out: list[Output] = []
    for start in range(0, len(stream), batch):
        out += STEP.run({0: task}, stream[start : start + batch])
    out += STEP.addressed(task.flush(), 0)  # a restored task given nothing finishes here
    assert STEP.dead_letters == 0
    return out


def on(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


def view(outputs: list[Output]) -> tuple[object, ...]:
    """What readers see: every alert in order; the latest state per test and the latest
    run per build and suite (the key of ``tests.runs`` is the pipeline)."""
    runs = {}
    for o in on(outputs, NAMES.runs):
        data = orjson.loads(o.value or b"")
        runs[(data["build_id"], data["suite"])] = (o.key, o.value)
    return (
        [(o.key, o.value) for o in on(outputs, NAMES.alerts)],
        {o.key: o.value for o in on(outputs, NAMES.state)},
        runs,
    )


def changelog_of(outputs: list[Output]) -> list[tuple[bytes, bytes | None]]:
    return [(o.key or b"", o.value) for o in on(outputs, NAMES.changelog)]


def restored(
    log: list[tuple[bytes, bytes | None]], changelog: Changelog | None = None
) -> FlakinessTask:
    task = FlakinessTask(0, NAMES, CONFIG, changelog)
    for key, value in log:
        task.restore(key, value)
    return task


UNINTERRUPTED_TASK = FlakinessTask(0, NAMES, CONFIG)
UNINTERRUPTED = run(UNINTERRUPTED_TASK, STREAM)


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


def test_one_batch_writes_one_changelog_record_however_many_results_it_has() -> None:
    task = FlakinessTask(0, NAMES, CONFIG)
    assert len(on(STEP.run({0: task}, STREAM[:200]), NAMES.changelog)) == 1
    assert task.flush() == []  # nothing new


def test_batching_changes_no_alert_and_no_latest_state_or_run() -> None:
    one_by_one = run(FlakinessTask(0, NAMES, CONFIG), STREAM, batch=1)
    assert view(run(FlakinessTask(0, NAMES, CONFIG), STREAM, batch=37)) == view(one_by_one)
    assert view(UNINTERRUPTED) == view(one_by_one)
    assert len(on(UNINTERRUPTED, NAMES.state)) < len(on(one_by_one, NAMES.state))


@settings(max_examples=examples(40))
@given(
    cuts=st.lists(st.integers(0, len(STREAM)), min_size=1, max_size=3),
    batch=st.sampled_from([1, 7, 50, 500]),
    cleaned=st.floats(0, 1),
    drop_tombstones=st.booleans(),
    tiny=st.booleans(),
)
def test_a_restart_at_any_batch_boundary_gives_the_same_alerts_state_runs_and_windows(
    cuts: list[int], batch: int, cleaned: float, drop_tombstones: bool, tiny: bool
) -> None:
    def changelog() -> Changelog:
        return tiny_changelog() if tiny else Changelog()

    produced: list[Output] = []
    start = 0
    task = FlakinessTask(0, NAMES, CONFIG, changelog())
    for cut in [*sorted(cuts), len(STREAM)]:
        log = changelog_of(produced)
        task = restored(compacted(log, int(cleaned * len(log)), drop_tombstones), changelog())
        produced.extend(run(task, STREAM[start:cut], batch))
        start = cut
    assert view(produced) == view(UNINTERRUPTED)
    assert snapshot(task.tracker) == snapshot(UNINTERRUPTED_TASK.tracker)
    task.changelog.check(task.tracker)


@settings(max_examples=examples(25))
@given(cleaned=st.floats(0, 1), drop_tombstones=st.booleans())
def test_the_changelog_as_kafka_keeps_it_restores_every_window_slot_for_slot(
    cleaned: float, drop_tombstones: bool
) -> None:
    live = FlakinessTask(0, NAMES, CONFIG, tiny_changelog())
    log = changelog_of(run(live, STREAM, batch=13))
    assert any(value is None for _, value in log)  # segments were emptied and deleted
    task = restored(compacted(log, int(cleaned * len(log)), drop_tombstones), tiny_changelog())
    task.flush()  # finishes the restore
    assert snapshot(task.tracker) == snapshot(live.tracker)
    task.changelog.check(task.tracker)
    live.changelog.check(live.tracker)


def test_duplicated_input_changes_no_output() -> None:
    once = run(FlakinessTask(0, NAMES, CONFIG), STREAM, batch=10)
    twice = run(FlakinessTask(0, NAMES, CONFIG), [r for r in STREAM for _ in range(2)], batch=20)
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


def test_records_taken_in_bulk_give_what_one_process_call_each_gives() -> None:
    """``process_all`` decodes a slice of records before it takes any in: the outputs,
    changelog and dead letters are those of ``process`` record by record."""
    bad = [
        Record(NAMES.results, 0, 0, b"pytest", b"not json", 0),
        Record("t.other", 0, 0, b"", b"{}", 0),
    ]
    stream = [*STREAM[:150], bad[0], *STREAM[150:400], bad[1], *STREAM[400:]]
    one_by_one = FlakinessTask(0, NAMES, CONFIG)
    expected: list[Output | Change | str] = []
    for record in stream:
        try:
            expected += one_by_one.process(record)
        except BadRecord as exc:
            expected.append(str(exc))
    expected += one_by_one.flush()
    bulk = FlakinessTask(0, NAMES, CONFIG)
    emitted, rejected = bulk.process_all(stream)
    assert [stream[i] for i, _ in rejected] == bad
    assert [o for o in expected if isinstance(o, str)] == [str(exc) for _, exc in rejected]
    assert [*emitted, *bulk.flush()] == [o for o in expected if not isinstance(o, str)]


def test_an_unreadable_changelog_record_is_skipped_on_restore() -> None:
    task = FlakinessTask(0, NAMES, CONFIG)
    task.restore(b"garbage", b"{}")
    task.restore(b'["s","test","pytest","s","n",null,0]', b"{}")  # the old per-slot format
    task.restore(b'["g",3]', b'{"c": {}, "r": [{"t": ["test", "pytest"]}]}')
    task.restore(b'["g",4]', b"[1, 2]")
    outputs = run(task, STREAM[:5])
    assert view(outputs) == view(run(FlakinessTask(0, NAMES, CONFIG), STREAM[:5]))
    written = [(key, value is None) for key, value in changelog_of(outputs)]
    assert written == [(b'["g",5]', False), (b'["g",3]', True)]  # after the last one seen;
    # and segment 3, with nothing readable in it, is deleted


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
IDLE_TASK = FlakinessTask(0, NAMES, SHORT)
IDLE_UNINTERRUPTED = run(IDLE_TASK, IDLE_STREAM)


def test_subjects_idle_for_a_whole_window_are_dropped_and_their_flags_cleared() -> None:
    # the ledger project stopped after build 8: its windows went, and all but the
    # flagged tests (whose episodes are remembered) with them
    ledger = {s: e for s, e in IDLE_TASK.tracker.entries.items() if s.key.startswith("rspec/")}
    assert sorted(s.name for s in ledger if isinstance(s, TestSubject)) == [
        "test_rebuild",
        "test_rerun",
    ]
    assert all(len(e) == 0 and e.meta is not None for e in ledger.values())
    recovered = [
        Alert.model_validate_json(o.value or b"")
        for o in on(IDLE_UNINTERRUPTED, NAMES.alerts)
        if b"flaky_test_recovered" in (o.value or b"")
    ]
    assert any(
        a.test.get("suite") == "rspec" and a.reasons == ["no executions for a whole window"]
        for a in recovered
    )


@settings(max_examples=15)
@given(st.integers(0, len(IDLE_STREAM)), st.floats(0, 1), st.booleans(), st.booleans())
def test_a_restart_across_dropped_windows_gives_the_same_outputs(
    cut: int, cleaned: float, drop_tombstones: bool, tiny: bool
) -> None:
    first_task = FlakinessTask(0, NAMES, SHORT, tiny_changelog() if tiny else None)
    first = run(first_task, IDLE_STREAM[:cut])
    log = changelog_of(first)
    task = FlakinessTask(0, NAMES, SHORT, tiny_changelog() if tiny else None)
    for key, value in compacted(log, int(cleaned * len(log)), drop_tombstones):
        task.restore(key, value)
    assert view(first + run(task, IDLE_STREAM[cut:])) == view(IDLE_UNINTERRUPTED)
    assert snapshot(task.tracker) == snapshot(IDLE_TASK.tracker)
    task.changelog.check(task.tracker)
