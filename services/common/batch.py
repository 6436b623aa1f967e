"""The stream runtime's work on one batch, without Kafka: records in, outputs out.

A :class:`PartitionTask` holds the state of one input partition number. It returns
:class:`Output` s (messages for other topics) and :class:`Change` s (writes to its own
state); the runtime addresses each change to the task's partition of the changelog,
so that partition *i* of the changelog always holds the state of input partition *i*
and no task needs to know the changelog's name or pick its partition (the runtimes of
Kafka Streams, faust and quix-streams do the same)::

    record ──▶ task.process ──┬─ Output ───────────────────────────▶ its topic
      (raises: a dead letter) └─ Change ──▶ (changelog, partition i)
    end of batch ──▶ task.flush (a BatchingTask) ──▶ the same two ways

:class:`BatchStep` is that whole step. :class:`~services.common.processor.StreamProcessor`
runs it between ``begin_transaction`` and the commit; tests of a task run the same
step to see what a batch produces.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby, islice
from operator import attrgetter
from typing import Any, NamedTuple, Protocol, TypeGuard, runtime_checkable

from schemas.deadletter import DeadLetter

__all__ = [
    "SLICE",
    "BatchStep",
    "BatchingTask",
    "BulkTask",
    "Change",
    "Incoming",
    "Output",
    "PartitionTask",
    "Record",
    "Rejected",
]

log = logging.getLogger(__name__)


class Record(NamedTuple):
    """One input message (a named tuple: one is made per input record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class Output(NamedTuple):
    """One message to produce inside the batch's transaction (``partition`` None: by key)."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class Change(NamedTuple):
    """A write to the task's own state (``value`` None deletes ``key``), which the
    runtime sends to the task's partition of the changelog."""

    key: bytes
    value: bytes | None


class PartitionTask(Protocol):
    """State and logic for one input partition number."""

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Replay one changelog record (oldest first), before any :meth:`process`."""

    def process(self, record: Record) -> Sequence[Output | Change]:
        """Handle one record; return what to produce and what state it changed."""


@runtime_checkable
class BatchingTask(PartitionTask, Protocol):
    """A task that buffers (e.g. coalesces changelog writes per key) within a batch."""

    def flush(self) -> Sequence[Output | Change]:
        """Called once per batch, after the task's last :meth:`process`, before commit."""


class Incoming(Protocol):
    """What a task reads of an input record: a :class:`Record`, or aiokafka's
    ``ConsumerRecord`` as the consumer handed it out."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


SLICE = 128
"""Records fed to a task at a time: a batch's records never all live at once (8,000
live objects would make every young-generation collection walk them), and the
processor looks at the commit under way between slices (about 1 ms of work)."""

Rejected = tuple[int, Exception]
"""A record a task raised on: its index among the records given, and the exception."""


@runtime_checkable
class BulkTask(PartitionTask, Protocol):
    """A task that also takes many records of its partition in one call.

    What the runtime does per record between two ``process`` calls (a Python-level
    loop, a :class:`Record` made, a call) then happens in the task's own loop, which can
    be compiled and can work in phases (decode a slice of records, then apply them):
    each phase's code stays in the processor's caches across the slice."""

    def process_all(
        self, records: Sequence[Incoming]
    ) -> tuple[Sequence[Output | Change], Sequence[Rejected]]:
        """:meth:`process` for each of ``records`` (one partition's, in order): what
        they emitted, in order, and the ones that raised (to become dead letters)."""


_KINDS: dict[type, tuple[bool, bool]] = {}


def _kind(task: PartitionTask) -> tuple[bool, bool]:
    """Whether ``task`` is a :class:`BulkTask` and a :class:`BatchingTask`, found once
    per task class: ``isinstance`` on a runtime-checkable protocol walks the protocol's
    members each time (about 60 µs here, several times a batch)."""
    kind = _KINDS.get(type(task))
    if kind is None:
        kind = _KINDS[type(task)] = (isinstance(task, BulkTask), isinstance(task, BatchingTask))
    return kind


def _is_bulk(task: PartitionTask) -> TypeGuard[BulkTask]:
    return _kind(task)[0]


def _is_batching(task: PartitionTask) -> TypeGuard[BatchingTask]:
    return _kind(task)[1]


class BatchStep:
    """Runs one batch through its tasks: the outputs of one transaction, in order.

    A record a task raises on becomes a dead letter on ``dlq_topic`` (and a call of
    ``on_dead_letter``) and the batch goes on.
    """

    def __init__(
        self,
        *,
        service: str,
        dlq_topic: str,
        changelog_topic: str | None,
        on_dead_letter: Callable[[], object] | None = None,
    ) -> None:
        self.service = service
        self.dlq_topic = dlq_topic
        self.changelog_topic = changelog_topic
        self.on_dead_letter = on_dead_letter
        self.dead_letters = 0

    def run(self, tasks: Mapping[int, PartitionTask], records: Iterable[Record]) -> list[Output]:
        """Every record through the task of its partition, then each touched
        :class:`BatchingTask`'s flush; changes addressed to the changelog."""
        out: list[Output] = []
        touched: dict[int, PartitionTask] = {}
        for partition, group in groupby(records, key=attrgetter("partition")):
            task = tasks[partition]
            while chunk := list(islice(group, SLICE)):
                self.feed(partition, task, chunk, out, touched)
        return self.finish(touched, out)

    def feed(
        self,
        partition: int,
        task: PartitionTask,
        records: Sequence[Incoming],
        out: list[Output],
        touched: dict[int, PartitionTask],
    ) -> None:
        """:meth:`run` without the flush, for a batch fed in several parts: the records
        (all of ``partition``, in order) through its ``task``, what it emits onto
        ``out``, the task noted in ``touched``."""
        touched[partition] = task
        if _is_bulk(task):
            emitted, rejected = task.process_all(records)
            for index, exc in rejected:
                out.append(self.dead_letter(records[index], exc))
            if emitted:
                out += self.addressed(emitted, partition)
            return
        process = task.process
        for incoming in records:
            record = incoming if type(incoming) is Record else _record(incoming)
            try:
                emitted = process(record)
            except Exception as exc:  # one poison record must not stop the stream
                out.append(self.dead_letter(record, exc))
                continue
            if emitted:
                out += self.addressed(emitted, partition)

    def finish(self, touched: Mapping[int, PartitionTask], out: list[Output]) -> list[Output]:
        """``out`` with the flush of each touched :class:`BatchingTask` added: the
        batch's outputs, in order."""
        for number, task in touched.items():
            if _is_batching(task):
                out += self.addressed(task.flush(), number)
        return out

    def addressed(self, emitted: Sequence[Output | Change], partition: int) -> list[Output]:
        """What the task of ``partition`` returned, each :class:`Change` as a record of
        that partition of the changelog."""
        changelog = self.changelog_topic
        out: list[Output] = []
        for item in emitted:
            if type(item) is Change:
                if changelog is None:
                    raise RuntimeError(f"{self.service}: a task changed state, but no changelog")
                out.append(Output(changelog, item.key, item.value, partition))
            else:
                out.append(item)  # type: ignore[arg-type]  # an Output: type() ruled out Change
        return out

    def dead_letter(self, record: Incoming, exc: Exception) -> Output:
        """The dead letter for ``record``, which a task raised ``exc`` on."""
        self.dead_letters += 1
        if self.on_dead_letter is not None:
            self.on_dead_letter()
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc
        )
        letter = DeadLetter(
            service=self.service,
            error="".join(traceback.format_exception_only(exc)).strip()[:2000],
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            key=record.key.decode(errors="replace") if record.key is not None else None,
            value=record.value.decode(errors="replace")[:100_000]
            if record.value is not None
            else None,
            at=datetime.now(UTC),
        )
        return Output(self.dlq_topic, record.key, letter.to_json())


_new = tuple.__new__


def _record(r: Any) -> Record:
    """aiokafka's ``ConsumerRecord`` as a :class:`Record`, made by ``tuple.__new__``,
    not the named tuple's Python-level constructor (a frame fewer: 3,800 -> 2,200
    instructions a record)."""
    return _new(Record, (r.topic, r.partition, r.offset, r.key, r.value, r.timestamp))
