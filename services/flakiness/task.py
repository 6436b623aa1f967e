"""The flakiness processor's task for one partition: records in, outputs out.

The shared runtime (``services.common.processor``) hands this task every record of
partition *i* of ``tests.results`` (keyed by suite) and ``buildkite.jobs`` (keyed by
pipeline). Both kinds meet here only because they share a partition number; the
tracker keys its state by test or step, never by the record key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

from services.common.processor import Output, Record
from services.common.topics import Topic, Topics
from services.flakiness import BadRecord
from services.flakiness.changelog import (
    decode_key,
    decode_meta,
    decode_slot,
    encode_context,
    encode_meta,
    encode_slot,
    meta_key,
    slot_key,
)
from services.flakiness.execution import Context, Execution
from services.flakiness.inputs import LastContext, from_job_event, from_test_result
from services.flakiness.messages import alert, state, test_run
from services.flakiness.settings import FlakinessSettings
from services.flakiness.tracker import Changes, Tracker

__all__ = ["FlakinessTask", "TopicNames"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicNames:
    """Full names of every topic the processor reads or writes."""

    results: str
    jobs: str
    changelog: str
    state: str
    runs: str
    alerts: str
    dlq: str

    @classmethod
    def under(cls, topics: Topics) -> TopicNames:
        return cls(
            results=topics.name(Topic.TEST_RESULTS),
            jobs=topics.name(Topic.JOBS),
            changelog=topics.internal("flakiness-changelog"),
            state=topics.name(Topic.FLAKINESS_STATE),
            runs=topics.name(Topic.TEST_RUNS),
            alerts=topics.name(Topic.ALERTS),
            dlq=topics.name(Topic.DLQ),
        )


class FlakinessTask:
    """A :class:`~services.common.processor.PartitionTask` around one :class:`Tracker`."""

    def __init__(self, partition: int, names: TopicNames, settings: FlakinessSettings) -> None:
        self.partition = partition
        self.names = names
        self.settings = settings
        self.tracker = Tracker(settings)
        self._branches = frozenset(settings.default_branches)
        self._last = LastContext()
        self._encoded: tuple[Context, bytes] | None = None

    def restore(self, key: bytes, value: bytes | None) -> None:
        try:
            record, subject, index = decode_key(key)
            if record == "s":
                assert index is not None
                execution = None if value is None else decode_slot(subject, value)
                self.tracker.restore_slot(subject, index, execution)
            else:
                meta = None if value is None else decode_meta(subject, value)
                self.tracker.restore_meta(subject, meta)
        except BadRecord as exc:
            log.error(
                "skipping unreadable changelog record (partition %d): %s", self.partition, exc
            )

    def process(self, record: Record) -> list[Output]:
        if self.tracker.restoring:
            self.tracker.finish_restore()
        execution = self._read(record)
        if execution is None:
            return []
        changes = self.tracker.add(execution)
        return [] if changes is None else self._outputs(changes)

    def _read(self, record: Record) -> Execution | None:
        if record.value is None:
            return None
        try:
            data = orjson.loads(record.value)
        except orjson.JSONDecodeError as exc:
            raise BadRecord(f"not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRecord("not a JSON object")
        if record.topic == self.names.results:
            return from_test_result(data, self._branches, self._last)
        if record.topic == self.names.jobs:
            return from_job_event(data, self._branches)
        raise BadRecord(f"unexpected topic {record.topic}")

    def _context_json(self, context: Context) -> bytes:
        if self._encoded is None or self._encoded[0] is not context:
            self._encoded = (context, encode_context(context))
        return self._encoded[1]

    def _outputs(self, changes: Changes) -> list[Output]:
        names, entries, p = self.names, self.tracker.entries, self.partition
        out = [
            Output(
                names.changelog, slot_key(s, i), encode_slot(e, self._context_json(e.context)), p
            )
            for s, i, e in changes.slots
        ]
        out.extend(Output(names.changelog, slot_key(s, i), None, p) for s, i in changes.dropped)
        for subject in dict.fromkeys(changes.metas):
            entry = entries.get(subject)
            meta = None if entry is None or entry.meta is None else encode_meta(entry.meta)
            out.append(Output(names.changelog, meta_key(subject), meta, p))
        for subject in dict.fromkeys(changes.states):
            entry = entries.get(subject)
            value = None if entry is None else state(entry, changes.at).to_json()
            out.append(Output(names.state, subject.key.encode(), value))
        for change in changes.alerts:
            message = alert(entries[change.subject], change)
            out.append(Output(names.alerts, change.subject.key.encode(), message.to_json()))
        for key in dict.fromkeys(changes.runs):
            run = self.tracker.runs.get(key)
            summary = None if run is None else test_run(run, entries, changes.at, self.settings)
            if summary is not None:
                out.append(Output(names.runs, summary.pipeline.encode(), summary.to_json()))
        return out
