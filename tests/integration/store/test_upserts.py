"""Upserts against rows already stored, and the conditional offsets, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.store import tables
from services.store.batch import Batch
from services.store.offsets import OffsetMoved, read_offsets
from services.store.writer import write_batch, write_rows
from tests.integration.store.tables_io import snapshot
from tests.store_stream import Message, build_event, job_event, raw, stream


def _write(engine: Engine, messages: list[Message]) -> None:
    """Each message in a transaction of its own."""
    for offset, (topic, key, value) in enumerate(messages):
        batch = Batch()
        batch.add_record(topic, 0, offset, key=key, value=raw(value), base_topic=topic)
        with engine.begin() as conn:
            write_rows(conn, batch)


def _build(engine: Engine, build_id: str) -> dict[str, object]:
    with engine.connect() as conn:
        query = sa.select(tables.builds).where(tables.builds.c.id == build_id)
        return dict(conn.execute(query).mappings().one())


def test_an_older_build_event_written_later_does_not_undo_the_newer(engine: Engine) -> None:
    running = build_event("b", 1, "running", 0, "build.running")
    passed = build_event("b", 1, "passed", 5)
    _write(engine, [("buildkite.builds", b"p", passed), ("buildkite.builds", b"p", running)])
    row = _build(engine, "b")
    assert (row["state"], row["event"]) == ("passed", "build.finished")
    assert row["finished_at"] == passed.build.finished_at


def test_a_job_names_a_build_until_its_build_event_arrives(engine: Engine) -> None:
    job = job_event("j", "b", 7, "passed", 10)
    _write(engine, [("buildkite.jobs", b"p", job)])
    assert (_build(engine, "b")["number"], _build(engine, "b")["event_id"]) == (7, "")
    built = build_event("b", 7, "running", 3, "build.running")  # older than the job event
    _write(engine, [("buildkite.builds", b"p", built)])
    row = _build(engine, "b")
    assert (row["state"], row["event_id"]) == ("running", built.event_id)
    _write(engine, [("buildkite.jobs", b"p", job)])  # the job again: the build stays
    assert _build(engine, "b")["event_id"] == built.event_id


def test_writing_every_message_twice_changes_nothing_but_the_day_counts(engine: Engine) -> None:
    messages = stream()
    _write(engine, messages)
    once = snapshot(engine)
    _write(engine, messages)
    twice = snapshot(engine)
    for table, rows in once.items():
        if table != "test_days":  # rollups count records: the offsets keep records single
            assert twice[table] == rows, table


def test_a_batch_whose_offsets_moved_elsewhere_rolls_back_entirely(engine: Engine) -> None:
    first, second = Batch(), Batch()
    topic, key, value = stream()[0]
    first.add_record("t", 0, 0, key=key, value=raw(value), base_topic=topic)
    second.add_record("t", 0, 0, key=key, value=raw(value), base_topic=topic)
    write_batch(engine, first, "g", {("t", 0): None})
    with pytest.raises(OffsetMoved):  # a second writer that also started from nothing
        write_batch(engine, second, "g", {("t", 0): None})
    third = Batch()
    third.add_record(
        "t", 0, 1, key=key, value=raw(build_event("b9", 9, "passed", 1)), base_topic=topic
    )
    with pytest.raises(OffsetMoved):  # a writer that believes the partition is at 7
        write_batch(engine, third, "g", {("t", 0): 7})
    assert [row["id"] for row in snapshot(engine)["builds"]] == ["b1"]
    write_batch(engine, third, "g", {("t", 0): 1})
    with engine.connect() as conn:
        assert read_offsets(conn, "g", ["t"]) == {("t", 0): 2}
    assert [row["id"] for row in snapshot(engine)["builds"]] == ["b1", "b9"]
