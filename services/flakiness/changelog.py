"""The changelog: the tracker's windows and statuses, written once per batch, read back.

Each batch writes one or a few segments (``services.flakiness.segments``): per subject
it touched, the executions its window took in (a delta), or its whole window. Reading
the segments in order rebuilds every window exactly.

Cleaning keeps the topic small. A subject writes a whole record again after
``max_deltas`` deltas, or when the oldest segment holding its whole record is being
emptied. Segments are emptied oldest first: when the records of the live segments
come to more than ``factor`` times the state (one unit per record and per slot) plus
``floor_units``, the subjects whose whole record is in the oldest segment are written
again (at most ``max_evacuate`` segments a batch), and a segment is deleted (a
tombstone) once it is the oldest and no subject's whole record is in it::

    segments:  g0  g1  g2  g3  g4        a subject's records: whole in g1, deltas in g2, g4
    emptying g1 writes it whole in g5;   then g0 (if free) and g1 are tombstoned

Deleting only the oldest segment keeps the rule "a record only matters after its
subject's last whole record" true for whatever compaction leaves: every deleted
segment is older than every live one. Records of the old per-slot format are skipped
(counted and logged once).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from services.flakiness import BadRecord
from services.flakiness.execution import Context, Subject
from services.flakiness.segments import (
    JsonByIdentity,
    Segment,
    SegmentWriter,
    decode_key,
    decode_meta,
    encode_context,
    segment_key,
    subject_of,
)
from services.flakiness.tracker import Changes, Entry, Tracker

__all__ = ["Changelog"]

log = logging.getLogger(__name__)

MAX_DELTAS = 16
FACTOR = 2
FLOOR_UNITS = 100_000
MAX_EVACUATE = 2
SEGMENT_BYTES = 256 * 1024


class Changelog:
    """Writes one partition's tracker state as segments and reads it back."""

    def __init__(
        self,
        *,
        max_deltas: int = MAX_DELTAS,
        factor: float = FACTOR,
        floor_units: int = FLOOR_UNITS,
        max_evacuate: int = MAX_EVACUATE,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.max_deltas = max_deltas
        self.factor = factor
        self.floor_units = floor_units
        self.max_evacuate = max_evacuate
        self.segment_bytes = segment_bytes
        self.segments: dict[int, Segment] = {}  # live ones, oldest first
        self.graves: dict[Subject, int] = {}  # gone subjects whose "gone" record still counts
        self.units = 0
        self.next_seq = 0
        # touched in this batch, in the order first touched: the changes that took an
        # execution into each (their execution and its event-id hash)
        self._dirty: dict[Entry, list[Changes]] = {}
        self._whole: set[Entry] = set()  # …of which these are written whole
        self._metas: set[Entry] = set()  # …and these changed status
        self._contexts_json = JsonByIdentity(encode_context)
        self._unreadable = 0

    # -- writing ----------------------------------------------------------------------

    def changed(self, changes: Changes) -> None:
        """Note what one execution changed, to be written at :meth:`flush`."""
        added = self._dirty.get(changes.entry)
        if added is None:
            self._dirty[changes.entry] = [changes]
        else:
            added.append(changes)
        if changes.cleared:  # (mostly empty: no iterator made)
            for entry in changes.cleared:
                self._write_whole(entry)
        if changes.metas:
            for entry in changes.metas:
                self._dirty.setdefault(entry, [])
                self._metas.add(entry)

    def _write_whole(self, entry: Entry) -> None:
        self._dirty.setdefault(entry, [])
        self._whole.add(entry)

    def flush(self, tracker: Tracker) -> list[tuple[bytes, bytes | None]]:
        """The batch's records: new segments, then tombstones of segments now free.

        Entries are written in the order first touched, so an entry that went (written
        as gone, if it ever was written) comes before one that took its subject's place
        (written whole)."""
        self._evacuate(tracker)
        first = self.next_seq
        writer = SegmentWriter(first, self.segment_bytes, self._contexts_json, self.segments)
        entries, max_deltas, whole, metas = (
            tracker.entries,
            self.max_deltas,
            self._whole,
            self._metas,
        )
        for entry, added in self._dirty.items():
            subject, held = entry.subject, entry.segment
            if entries.get(subject) is not entry:  # gone
                if held is not None:
                    self._let_go(held)
                    self.graves[subject] = writer.gone(subject)
                    entry.segment = None
            elif held is not None and entry.deltas < max_deltas and entry not in whole:
                writer.delta(entry, added, entry in metas)
            else:
                if held is None:
                    held = self.graves.pop(subject, None)
                if held is not None:
                    self._let_go(held)
                entry.segment = writer.whole(entry, tracker.contexts)
                entry.deltas = 0
        self._dirty.clear()
        whole.clear()
        metas.clear()
        writer.close()
        self.units += writer.units
        self.next_seq = writer.next_seq
        return writer.out + self._release(first)

    def _let_go(self, seq: int) -> None:
        segment = self.segments.get(seq)
        if segment is not None:
            segment.live -= 1

    def _evacuate(self, tracker: Tracker) -> None:
        """Over budget: have the subjects whose whole record is in the oldest segments
        written again, so that those segments can go."""
        state = len(tracker.entries) + len(self.graves) + tracker.contexts.held
        budget = self.factor * state + self.floor_units
        projected, emptied = self.units, 0
        for segment in self.segments.values():
            if projected <= budget or emptied == self.max_evacuate:
                break
            if segment.live:
                emptied += 1
                for subject in segment.wholes:
                    entry = tracker.entries.get(subject)
                    if entry is not None and entry.segment == segment.seq:
                        self._write_whole(entry)  # (gone ones are written as such)
                    elif self.graves.get(subject) == segment.seq:
                        del self.graves[subject]
                        segment.live -= 1
            projected -= segment.units

    def _release(self, first_new: int) -> list[tuple[bytes, bytes | None]]:
        """Tombstones for the oldest segments that no longer hold a whole record."""
        out: list[tuple[bytes, bytes | None]] = []
        for seq, segment in list(self.segments.items()):
            if segment.live or seq >= first_new:
                break
            del self.segments[seq]
            self.units -= segment.units
            out.append((segment_key(seq), None))
        return out

    # -- restoring ----------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None, tracker: Tracker) -> None:
        """Apply one changelog record (oldest first) to ``tracker``."""
        try:
            seq = decode_key(key)
        except BadRecord:
            self._unreadable += 1
            return
        self.next_seq = max(self.next_seq, seq + 1)
        old = self.segments.pop(seq, None)
        if old is not None:
            self.units -= old.units
        if value is None:
            return
        try:
            data = orjson.loads(value)
            canonical = tracker.contexts.canonical
            contexts = {int(i): canonical(Context(**fields)) for i, fields in data["c"].items()}
            records = data["r"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            self._unreadable += 1
            return
        segment = self.segments[seq] = Segment(seq, 0, [])
        for record in records:
            try:
                units = self._apply(record, contexts, seq, tracker, segment)
            except (BadRecord, KeyError, IndexError, TypeError, ValueError) as exc:
                log.error("skipping an unreadable changelog record in segment %d: %s", seq, exc)
                continue
            segment.units += units
            self.units += units

    def _apply(
        self,
        record: dict[str, Any],
        contexts: dict[int, Context],
        seq: int,
        tracker: Tracker,
        segment: Segment,
    ) -> int:
        subject = subject_of(record["t"])
        entry = tracker.restore_entry(subject)
        rows = record["s"]
        if "w" in record:
            entry.load([(float(at), int(eid), contexts[c], int(bits)) for at, eid, c, bits in rows])
            meta = record.get("m")
            entry.meta = None if meta is None else decode_meta(meta)
            entry.segment, entry.deltas = seq, 0
            segment.wholes.append(subject)
        else:
            entry.deltas += 1
            if "m" in record:
                entry.meta = decode_meta(record["m"])
            bounds = (tracker.settings.window_size, tracker.settings.window_s)
            for at, eid, c, bits in rows:
                entry.take((float(at), int(eid), contexts[c], int(bits)), *bounds)
        return 1 + len(rows)

    def finish_restore(self, tracker: Tracker) -> None:
        """After the last record: gone subjects become graves, live counts are taken,
        and the tracker derives the rest."""
        orphans = 0
        for subject, entry in list(tracker.entries.items()):
            seq = entry.segment
            if seq is None:  # deltas without a whole record: not from this writer
                orphans += 1
                tracker.forget(subject)
            elif len(entry) == 0 and entry.meta is None:
                tracker.forget(subject)
                if seq in self.segments:
                    self.graves[subject] = seq
        for entry in tracker.entries.values():
            segment = self.segments.get(entry.segment)  # type: ignore[arg-type]
            if segment is None:  # its whole record's segment is gone: write it again
                self._write_whole(entry)
            else:
                segment.live += 1
        for seq in self.graves.values():
            self.segments[seq].live += 1
        tracker.finish_restore()
        if self._unreadable or orphans:
            log.error(
                "changelog: skipped %d unreadable records and %d subjects without a whole "
                "record (an older format?)",
                self._unreadable,
                orphans,
            )
        log.info(
            "changelog: %d subjects, %d segments (%d units) restored",
            len(tracker.entries),
            len(self.segments),
            self.units,
        )
        self._unreadable = 0

    def check(self, tracker: Tracker) -> None:
        """Assert the bookkeeping is consistent (tests)."""
        live: dict[int, int] = {}
        for entry in tracker.entries.values():
            assert entry.segment in self.segments, entry.subject
            live[entry.segment] = live.get(entry.segment, 0) + 1
        for seq in self.graves.values():
            live[seq] = live.get(seq, 0) + 1
        assert {s: g.live for s, g in self.segments.items() if g.live} == live
        assert self.units == sum(g.units for g in self.segments.values())
