"""The changelog: per-batch segments that rebuild every window, and stay small."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.flakiness.changelog import Changelog
from services.flakiness.execution import Execution, TestSubject
from services.flakiness.tracker import Tracker
from tests.thorough import examples
from tests.unit.flakiness.replay import TINY, LogRecord, compacted, snapshot, tiny_changelog
from tests.unit.flakiness.timeline import T0, days, result
from tests.unit.flakiness.timeline import settings as config

SUBJECTS = [TestSubject("pytest", "tests.test_cart", f"test_{n}", None) for n in range(6)]


def feed(tracker: Tracker, changelog: Changelog, batches: list[list[Execution]]) -> list[LogRecord]:
    """Each batch through the tracker, then one flush; every record written."""
    log: list[LogRecord] = []
    for batch in batches:
        for execution in batch:
            changes = tracker.add(execution)
            if changes is not None:
                changelog.changed(changes)
        log.extend(changelog.flush(tracker))
        changelog.check(tracker)
    return log


def builds(count: int, subjects: list[TestSubject], start: int = 0) -> list[list[Execution]]:
    """One batch per build, an hour apart, every subject passing once."""
    return [
        [
            result(T0 + b * 3600, failed=False, build=str(b), commit=f"c{b}", subject=s)
            for s in subjects
        ]
        for b in range(start, start + count)
    ]


def restore(log: list[LogRecord], changelog: Changelog, tracker: Tracker) -> None:
    for key, value in log:
        changelog.restore(key, value, tracker)
    changelog.finish_restore(tracker)


def test_a_subject_is_written_whole_again_after_max_deltas_deltas() -> None:
    tracker, changelog = Tracker(config()), Changelog(max_deltas=3)
    log = feed(tracker, changelog, builds(9, SUBJECTS[:1]))
    records = [orjson.loads(value)["r"][0] for _, value in log if value is not None]
    assert ["w" in r for r in records] == [True, False, False, False] * 2 + [True]
    assert [len(r["s"]) for r in records[:2]] == [1, 1]  # a delta lists what came in
    assert len(records[4]["s"]) == 5  # a whole record lists the window


def test_the_changelog_of_subjects_that_keep_running_stays_a_few_windows_long() -> None:
    tracker, changelog = Tracker(config(window_size=5)), Changelog(max_deltas=4, floor_units=0)
    log = feed(tracker, changelog, builds(200, SUBJECTS))
    kept = compacted(log, len(log), drop_tombstones=True)
    state = len(tracker.entries) + tracker.contexts.held
    assert sum(1 + len(orjson.loads(v or b"")["r"]) for _, v in kept) < 200  # of 1,200 written
    assert changelog.units <= 2 * state + 4 * len(SUBJECTS)
    assert len(changelog.segments) <= 6


def test_a_subject_that_stopped_running_does_not_keep_old_segments_alive() -> None:
    tracker = Tracker(config(window_size=5))
    changelog = Changelog(max_deltas=4, floor_units=0, max_evacuate=1)
    feed(tracker, changelog, builds(1, SUBJECTS))  # all six in the first segment
    feed(tracker, changelog, builds(100, SUBJECTS[1:], start=1))  # test_0 stops
    assert SUBJECTS[0] in tracker.entries  # still in its window (T is 14 days)
    assert min(changelog.segments) > 50  # its whole record was written again, later
    assert len(changelog.segments) <= 8


def test_a_gone_subject_is_written_as_gone_and_stays_gone_after_a_restore() -> None:
    short = config(window_days=0.5)
    tracker, changelog = Tracker(short), tiny_changelog()
    log = feed(tracker, changelog, builds(2, SUBJECTS[:2]))
    log += feed(tracker, changelog, builds(20, SUBJECTS[1:2], start=2))  # test_0 idles out
    assert SUBJECTS[0] not in tracker.entries
    assert not changelog.graves  # its "gone" record went with the oldest segments
    assert min(changelog.segments) > 10
    again, fresh = Tracker(short), tiny_changelog()
    restore(log, fresh, again)
    assert snapshot(again) == snapshot(tracker)
    fresh.check(again)


@st.composite
def streams(draw: st.DrawFn) -> list[list[Execution]]:
    """Batches of executions of a few subjects over a few weeks, some out of order,
    some duplicated, some subjects idle long enough to be dropped."""
    batches = []
    for b in range(draw(st.integers(1, 25))):
        batch = []
        for _ in range(draw(st.integers(0, 6))):
            day = draw(st.floats(0, 3)) + b * draw(st.sampled_from([0.2, 1.0, 2.0]))
            subject = draw(st.sampled_from(SUBJECTS))
            batch.append(
                result(
                    T0 + days(day),
                    failed=draw(st.booleans()),
                    build=str(draw(st.integers(0, 8))),
                    commit=f"c{draw(st.integers(0, 4))}",
                    subject=subject,
                    attempt=draw(st.integers(1, 2)),
                    event=f"e{draw(st.integers(0, 60))}",
                )
            )
        batches.append(batch)
    return batches


@settings(max_examples=examples(150))
@given(
    streams(),
    st.floats(0, 1),
    st.booleans(),
    st.sampled_from([TINY, {"max_deltas": 3, "floor_units": 10}]),
)
def test_restoring_any_stream_from_the_changelog_as_kafka_keeps_it_gives_the_same_tracker(
    batches: list[list[Execution]],
    cleaned: float,
    drop_tombstones: bool,
    cleaning: dict[str, float],
) -> None:
    short = config(window_size=4, window_days=5, clear_after_runs=3)
    tracker, changelog = Tracker(short), Changelog(**cleaning)  # type: ignore[arg-type]
    log = feed(tracker, changelog, batches)
    again, fresh = Tracker(short), Changelog(**cleaning)  # type: ignore[arg-type]
    restore(compacted(log, int(cleaned * len(log)), drop_tombstones), fresh, again)
    assert snapshot(again) == snapshot(tracker)
    fresh.check(again)
    # and the restored one goes on exactly like the original
    more = [[result(T0 + days(60), failed=True, subject=s, event="later")] for s in SUBJECTS]
    assert feed(again, fresh, more) == feed(tracker, changelog, more)
    assert snapshot(again) == snapshot(tracker)
