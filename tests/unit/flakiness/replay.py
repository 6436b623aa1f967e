"""What Kafka keeps of a changelog, and a tracker's state in a form tests can compare."""

from __future__ import annotations

from services.flakiness.changelog import Changelog
from services.flakiness.tracker import Tracker

__all__ = ["TINY", "LogRecord", "compacted", "snapshot", "tiny_changelog"]

LogRecord = tuple[bytes, bytes | None]

# cleaning all the time: a whole record after two deltas, the budget always exceeded,
# segments of a few records
TINY = {
    "max_deltas": 2,
    "factor": 1.0,
    "floor_units": 0,
    "max_evacuate": 1,
    "segment_bytes": 1500,
}


def tiny_changelog() -> Changelog:
    return Changelog(**TINY)  # type: ignore[arg-type]


def compacted(log: list[LogRecord], cleaned_to: int, drop_tombstones: bool) -> list[LogRecord]:
    """``log`` after Kafka's cleaner went over its first ``cleaned_to`` records.

    There, a record is gone when a later record in that range has the same key, and a
    tombstone is gone too once ``drop_tombstones`` (``delete.retention.ms`` passed).
    Records from ``cleaned_to`` on (the active segment) are all still there."""
    last = {key: n for n, (key, _) in enumerate(log[:cleaned_to])}
    kept = []
    for n, (key, value) in enumerate(log):
        if n < cleaned_to and (last[key] != n or (value is None and drop_tombstones)):
            continue
        kept.append((key, value))
    return kept


def snapshot(tracker: Tracker) -> dict[str, object]:
    """Every window execution by execution (contexts resolved), statuses, runs, clock."""
    contexts = tracker.contexts
    return {
        "entries": {
            subject.key: (
                [(at, eid, contexts[c], bits) for at, eid, c, bits in entry.rows()],
                entry.failures,
                entry.meta,
                entry.flips,
            )
            for subject, entry in tracker.entries.items()
        },
        "runs": {
            key: (
                run.total,
                run.failed,
                run.failed_tests,
                {s.key: c for s, c in run.failing.items()},
            )
            for key, run in tracker.runs.runs.items()
        },
        "watermark": tracker.watermark,
    }
