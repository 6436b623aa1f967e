"""The runtime's batch step, without Kafka: tasks, dead letters, changelog addressing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from schemas.deadletter import DeadLetter
from services.common.batch import BatchStep, Change, Output, Record


class Summing:
    """Sums values per key; each sum is state (a change), each record an output."""

    def __init__(self) -> None:
        self.sums: dict[bytes, int] = {}
        self.flushes = 0

    def restore(self, key: bytes, value: bytes | None) -> None:
        self.sums[key] = int(value or b"0")

    def process(self, record: Record) -> Sequence[Output | Change]:
        key = record.key or b""
        self.sums[key] = self.sums.get(key, 0) + int(record.value or b"")  # b"x" raises
        return [Change(key, str(self.sums[key]).encode()), Output("out", key, record.value)]


class Buffering(Summing):
    """Writes its state once a batch, at the flush."""

    def __init__(self) -> None:
        super().__init__()
        self.dirty: set[bytes] = set()

    def process(self, record: Record) -> Sequence[Output | Change]:
        super().process(record)
        self.dirty.add(record.key or b"")
        return []

    def flush(self) -> Sequence[Output | Change]:
        self.flushes += 1
        changes = [Change(k, str(self.sums[k]).encode()) for k in sorted(self.dirty)]
        self.dirty.clear()
        return changes


def rec(partition: int, key: bytes, value: bytes, offset: int = 0) -> Record:
    return Record("in", partition, offset, key, value, 0)


def step(changelog: str | None = "log") -> BatchStep:
    return BatchStep(service="svc", dlq_topic="dlq", changelog_topic=changelog)


def test_changes_go_to_the_changelog_partition_of_their_task_in_order() -> None:
    tasks = {0: Summing(), 3: Summing()}
    out = step().run(tasks, [rec(3, b"a", b"1"), rec(3, b"a", b"2"), rec(0, b"a", b"5")])
    assert out == [
        Output("log", b"a", b"1", 3),
        Output("out", b"a", b"1"),
        Output("log", b"a", b"3", 3),
        Output("out", b"a", b"2"),
        Output("log", b"a", b"5", 0),
        Output("out", b"a", b"5"),
    ]


def test_a_batching_task_is_flushed_once_a_batch_and_only_when_it_had_records() -> None:
    busy, idle = Buffering(), Buffering()
    out = step().run(
        {1: busy, 2: idle}, [rec(1, b"a", b"1"), rec(1, b"b", b"2"), rec(1, b"a", b"3")]
    )
    assert out == [Output("log", b"a", b"4", 1), Output("log", b"b", b"2", 1)]
    assert (busy.flushes, idle.flushes) == (1, 0)


def test_a_record_a_task_raises_on_becomes_a_dead_letter_and_the_batch_goes_on() -> None:
    counted: list[int] = []
    batch = BatchStep(
        service="svc",
        dlq_topic="dlq",
        changelog_topic="log",
        on_dead_letter=lambda: counted.append(1),
    )
    out = batch.run({0: Summing()}, [rec(0, b"a", b"x", offset=7), rec(0, b"a", b"2", offset=8)])
    letter, *rest = out
    assert letter.topic == "dlq"
    assert letter.key == b"a"
    dead = DeadLetter.model_validate_json(letter.value or b"")
    assert (dead.service, dead.origin_topic, dead.origin_partition, dead.origin_offset) == (
        "svc",
        "in",
        0,
        7,
    )
    assert dead.value == "x"
    assert dead.error.startswith("ValueError: invalid literal for int()")
    assert rest == [Output("log", b"a", b"2", 0), Output("out", b"a", b"2")]
    assert (batch.dead_letters, len(counted)) == (1, 1)


def test_a_change_without_a_changelog_is_a_bug_not_a_dead_letter() -> None:
    with pytest.raises(RuntimeError, match="no changelog"):
        step(changelog=None).run({0: Summing()}, [rec(0, b"a", b"1")])


def test_an_output_addressed_by_the_task_is_left_as_it_is() -> None:
    assert step().addressed([Output("log", b"k", b"v", 5)], 0) == [Output("log", b"k", b"v", 5)]


class Bulk(Summing):
    """Summing, with the records of a slice taken in one call (records it raises on
    reported by index, as a task that works in phases would)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def process_all(
        self, records: Sequence[Record]
    ) -> tuple[Sequence[Output | Change], Sequence[tuple[int, Exception]]]:
        self.calls += 1
        out: list[Output | Change] = []
        rejected: list[tuple[int, Exception]] = []
        for i, record in enumerate(records):
            try:
                out += self.process(record)
            except ValueError as exc:
                rejected.append((i, exc))
        return out, rejected


def test_a_bulk_task_takes_each_partitions_records_in_one_call_with_the_same_outputs() -> None:
    records = [
        rec(0, b"a", b"1"),
        rec(0, b"a", b"x", offset=1),
        rec(1, b"b", b"2"),
        rec(0, b"a", b"3"),
    ]
    bulk = {0: Bulk(), 1: Bulk()}
    out = step().run(bulk, records)
    one_by_one = step().run({0: Summing(), 1: Summing()}, records)
    assert [o for o in out if o.topic != "dlq"] == [o for o in one_by_one if o.topic != "dlq"]
    letters = [DeadLetter.model_validate_json(o.value or b"") for o in out if o.topic == "dlq"]
    assert [(d.origin_partition, d.origin_offset, d.value) for d in letters] == [(0, 1, "x")]
    assert (bulk[0].calls, bulk[1].calls) == (2, 1)  # partition 0, 1, then 0 again
