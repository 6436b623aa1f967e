"""The flakiness processor's task for one partition: records in, outputs out.

The shared runtime (``services.common.processor``) hands this task every record of
partition *i* of ``tests.results`` (keyed by suite) and ``buildkite.jobs`` (keyed by
pipeline). Both kinds meet here only because they share a partition number; the
tracker keys its state by test or step, never by the record key.

Alerts go out as they happen. Everything else waits for the end of the runtime's batch
(:meth:`FlakinessTask.flush`): the changelog gets one record per touched subject
(``services.flakiness.changelog``), and ``flakiness.state`` and ``tests.runs`` get the
latest of the values the batch gave each key (a test's state, a build's run). Those
values are computed when they change, so whatever the batch boundaries, the last value
per key is the one an execution-by-execution run would have published last.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from services.common.batch import Change, Output, Record, Rejected
from services.common.topics import Topic, Topics
from services.flakiness import BadRecord
from services.flakiness.changelog import Changelog
from services.flakiness.execution import Execution, event_hash
from services.flakiness.inputs import LastContext, from_job_event, from_result_value, json_object
from services.flakiness.messages import alert, state_json, test_run
from services.flakiness.owners import Owners
from services.flakiness.runs import RunKey
from services.flakiness.settings import FlakinessSettings
from services.flakiness.tracker import Changes, Entry, Tracker

__all__ = ["FlakinessTask", "FlakinessTopics"]

log = logging.getLogger(__name__)

_PHASE: Final = 256  # records decoded before they are taken in (process_all)


@dataclass(frozen=True)
class FlakinessTopics:
    """Full names of every topic the processor reads or writes."""

    results: str
    jobs: str
    changelog: str
    state: str
    runs: str
    alerts: str
    dlq: str

    @classmethod
    def under(cls, topics: Topics) -> FlakinessTopics:
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
    """A :class:`~services.common.processor.BatchingTask` around one :class:`Tracker`."""

    def __init__(
        self,
        partition: int,
        names: FlakinessTopics,
        settings: FlakinessSettings,
        changelog: Changelog | None = None,
        owners: Owners | None = None,
    ) -> None:
        self.partition = partition
        self.names = names
        self.settings = settings
        self.tracker = Tracker(settings)
        self.changelog = changelog or Changelog()
        self.owners = owners or Owners()
        self._branches = frozenset(settings.default_branches)
        self._last = LastContext()
        self._restoring = False
        self._states: dict[bytes, bytes | None] = {}
        self._runs: dict[RunKey, Output] = {}

    def restore(self, key: bytes, value: bytes | None) -> None:
        self.changelog.restore(key, value, self.tracker)
        self._restoring = True

    def _finish_restore(self) -> None:
        self._restoring = False
        self.changelog.finish_restore(self.tracker)

    def process(self, record: Record) -> list[Output]:
        if self._restoring:
            self._finish_restore()
        execution = self._execution(record.topic, record.value)
        return [] if execution is None else self._take(execution)

    def process_all(self, records: Sequence[Any]) -> tuple[list[Output], list[Rejected]]:
        """:meth:`process` for each of ``records``, in phases over a slice at a time:
        first every record of the slice decoded (and its event id hashed), then each
        execution taken in. Decoding does not depend on what was taken in before, so
        the outputs are those of a :meth:`process` per record; but each phase's code
        (msgspec and the input shapes; the windows and the changelog) then stays in the
        CPU's instruction cache across the slice instead of evicting the other's at
        every record."""
        if self._restoring:
            self._finish_restore()
        out: list[Output] = []
        rejected: list[Rejected] = []
        for start in range(0, len(records), _PHASE):
            # the k-th execution (None: nothing to take) and its event-id hash are those
            # of the record at start + k: no index kept per record, no tuple made
            taken: list[Execution | None] = []
            eids: list[int] = []
            for record in records[start : start + _PHASE]:
                try:
                    execution = self._execution(record.topic, record.value)
                    eid = 0 if execution is None else event_hash(execution.event_id)
                except Exception as exc:  # a dead letter, as process's caller makes it
                    rejected.append((start + len(taken), exc))
                    execution, eid = None, 0
                taken.append(execution)
                eids.append(eid)
            for k, execution in enumerate(taken):
                if execution is None:
                    continue
                try:
                    emitted = self._take(execution, eids[k])
                except Exception as exc:
                    rejected.append((start + k, exc))
                    continue
                if emitted:
                    out.extend(emitted)
        return out, rejected

    def _execution(self, topic: str, value: bytes | None) -> Execution | None:
        if value is None:
            return None
        if topic == self.names.results:
            return from_result_value(value, self._branches, self._last)
        if topic == self.names.jobs:
            return from_job_event(json_object(value), self._branches)
        raise BadRecord(f"unexpected topic {topic}")

    def _take(self, execution: Execution, eid: int | None = None) -> list[Output]:
        changes = self.tracker.add(execution, eid)
        if changes is None:
            return []
        self.changelog.changed(changes)
        if changes.states or changes.runs or changes.alerts:
            return self._publish(changes)
        return []

    def flush(self) -> list[Output | Change]:
        """The batch's changelog changes and the latest state and run values."""
        if self._restoring:
            self._finish_restore()
        out: list[Output | Change] = [Change(k, v) for k, v in self.changelog.flush(self.tracker)]
        out.extend(Output(self.names.state, key, value) for key, value in self._states.items())
        out.extend(self._runs.values())
        self._states.clear()
        self._runs.clear()
        return out

    def _publish(self, changes: Changes) -> list[Output]:
        """Alerts now; state and run values kept for :meth:`flush`."""
        names, entries = self.names, self.tracker.entries
        if changes.states:
            for subject in dict.fromkeys(changes.states):
                entry = entries.get(subject)
                value = None if entry is None else state_json(entry, changes.at)
                self._states[subject.key.encode()] = value
        if changes.runs:
            for key in dict.fromkeys(changes.runs):
                run = self.tracker.runs.get(key)
                summary = None if run is None else test_run(run, entries, changes.at, self.settings)
                if summary is not None:
                    pipeline = summary.pipeline.encode()
                    self._runs[key] = Output(names.runs, pipeline, summary.to_json())
        if not changes.alerts:
            return []
        out: list[Output] = []
        for change in changes.alerts:
            entry = entries[change.subject]
            value = alert(entry, change, self._service(entry)).to_json()
            out.append(Output(names.alerts, change.subject.key.encode(), value))
        return out

    def _service(self, entry: Entry) -> str | None:
        """The catalog service of ``entry``'s test or step (once per alert, not per result)."""
        newest_first = (c.pipeline for c in reversed(list(entry.contexts())) if c.pipeline)
        return self.owners.service_of(entry.subject, newest_first)
