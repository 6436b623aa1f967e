"""The changelog: the tracker's windows and statuses, written once per batch, read back.

Each batch writes what it changed as one or a few **segments**, records keyed
``["g", seq]`` with ``seq`` counting up. A segment holds one record per subject the
batch touched, and the contexts (build, job, commit…) its slots refer to::

    {"c": {"7": {"build_id": …}, …},
     "r": [{"t": ["test", suite, scope, name, file], "n": 50,
            "s": [[i, at, eid, 7, bits], …], "m": {…}},
           {"t": ["step", pipeline, step_key], "s": [[3, at, eid, 7, bits], [4]]},
           …]}

A record with ``"n"`` is **whole**: the window has ``n`` slots, those listed are full,
``"m"`` is the status (``null``: none); ``"n": 0`` with nothing else says the subject
is gone. A record without ``"n"`` is a **delta** on the subject's last whole record:
the listed slots (``[i]`` alone: emptied) and, if present, the new status. Reading the
segments in order and applying each record rebuilds every window slot for slot.

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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.flakiness import Evidence
from services.flakiness import BadRecord
from services.flakiness.execution import Context, StepSubject, Subject, TestSubject
from services.flakiness.status import Meta
from services.flakiness.tracker import Changes, Entry, Tracker
from services.flakiness.window import Contexts

__all__ = [
    "Changelog",
    "Segment",
    "decode_meta",
    "encode_context",
    "encode_meta",
    "segment_key",
]

log = logging.getLogger(__name__)

MAX_DELTAS = 16
FACTOR = 2
FLOOR_UNITS = 100_000
MAX_EVACUATE = 2
SEGMENT_BYTES = 256 * 1024

_CONTEXT_FIELDS = tuple(f for f, d in Context.__dataclass_fields__.items() if d.init)

Row = tuple[int, float, int, int, int] | tuple[int]


# -- encoding ---------------------------------------------------------------------------


def segment_key(seq: int) -> bytes:
    return b'["g",%d]' % seq


def _decode_key(raw: bytes) -> int:
    try:
        kind, seq = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise BadRecord(f"unreadable changelog key {raw[:100]!r}") from exc
    if kind != "g" or not isinstance(seq, int):
        raise BadRecord(f"not a changelog segment key: {raw[:100]!r}")
    return seq


def _identity(subject: Subject) -> list[Any]:
    if isinstance(subject, TestSubject):
        return ["test", subject.suite, subject.scope, subject.name, subject.file]
    return ["step", subject.pipeline, subject.step_key]


def _subject(parts: list[Any]) -> Subject:
    if parts[0] == "test":
        return TestSubject(parts[1], parts[2], parts[3], parts[4])
    if parts[0] == "step":
        return StepSubject(parts[1], parts[2])
    raise BadRecord(f"unknown subject kind {parts[0]!r}")


def encode_context(ctx: Context) -> bytes:
    return orjson.dumps(
        {f: getattr(ctx, f) for f in _CONTEXT_FIELDS if getattr(ctx, f) not in (None, False)}
    )


def encode_meta(meta: Meta) -> bytes:
    return orjson.dumps(
        {
            "flaky": meta.flaky,
            "episodes": meta.episodes,
            "since": meta.since,
            "last": meta.last_evidence_at,
            "after": meta.after,
            "evidence": [e.model_dump(mode="json") for e in meta.evidence],
        }
    )


def decode_meta(data: dict[str, Any]) -> Meta:
    try:
        return Meta(
            flaky=bool(data["flaky"]),
            episodes=int(data["episodes"]),
            since=data["since"],
            last_evidence_at=data["last"],
            after=int(data["after"]),
            evidence=[Evidence.model_validate(e) for e in data["evidence"]],
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise BadRecord(f"unreadable status in the changelog: {exc}") from exc


# -- bookkeeping ------------------------------------------------------------------------


@dataclass(slots=True)
class Segment:
    """A live segment: its size in units, the subjects whose whole record it got, and
    how many of them (and of the gone subjects) still have their last whole record in it."""

    seq: int
    units: int
    wholes: list[Subject]
    live: int = 0


@dataclass(slots=True)
class _Mark:
    """An entry touched in this batch: the slots written (``None``: write it whole)."""

    slots: set[int] | None
    meta: bool = False


class _Writer:
    """Packs one batch's records into segments of about ``limit`` bytes."""

    def __init__(self, log: Changelog, contexts: Contexts) -> None:
        self.log = log
        self.contexts = contexts
        self.out: list[tuple[bytes, bytes | None]] = []
        self.first = log.next_seq
        self._segment: Segment | None = None
        self._records: list[bytes] = []
        self._used: set[int] = set()
        self._size = 0

    def add(
        self, subject: Subject, record: bytes, units: int, used: Iterable[int], whole: bool
    ) -> int:
        segment = self._segment
        if segment is None or self._size > self.log.segment_bytes:
            self.close()
            segment = self._segment = Segment(self.log.next_seq, 0, [])
            self.log.segments[segment.seq] = segment
            self.log.next_seq += 1
        for i in used:
            if i not in self._used:
                self._used.add(i)
                self._size += len(self.log.context_json(self.contexts, i)) + 8
        self._records.append(record)
        self._size += len(record) + 1
        segment.units += units
        self.log.units += units
        if whole:
            segment.wholes.append(subject)
            segment.live += 1
        return segment.seq

    def close(self) -> None:
        segment = self._segment
        if segment is None:
            return
        contexts = {
            i: orjson.Fragment(self.log.context_json(self.contexts, i)) for i in sorted(self._used)
        }
        value = b'{"c":%s,"r":[%s]}' % (
            orjson.dumps(contexts, option=orjson.OPT_NON_STR_KEYS),
            b",".join(self._records),
        )
        self.out.append((segment_key(segment.seq), value))
        self._segment, self._records, self._used, self._size = None, [], set(), 0


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
        self._dirty: dict[Entry, _Mark] = {}  # in the order first touched
        self._contexts_json: dict[int, tuple[Context, bytes]] = {}
        self._unreadable = 0

    # -- writing ----------------------------------------------------------------------

    def changed(self, changes: Changes) -> None:
        """Note what one execution changed, to be written at :meth:`flush`."""
        dirty = self._dirty
        for entry, index in changes.written:
            mark = dirty.get(entry)
            if mark is None:
                dirty[entry] = _Mark({index})
            elif mark.slots is not None:
                mark.slots.add(index)
        for entry in changes.cleared:
            self._mark(entry).slots = None
        for entry in changes.metas:
            self._mark(entry).meta = True

    def _mark(self, entry: Entry) -> _Mark:
        mark = self._dirty.get(entry)
        if mark is None:
            mark = self._dirty[entry] = _Mark(set())
        return mark

    def flush(self, tracker: Tracker) -> list[tuple[bytes, bytes | None]]:
        """The batch's records: new segments, then tombstones of segments now free."""
        self._evacuate(tracker)
        writer = _Writer(self, tracker.contexts)
        for entry, mark in self._dirty.items():
            self._write(entry, mark, tracker, writer)
        self._dirty.clear()
        writer.close()
        return writer.out + self._release(writer.first)

    def _write(self, entry: Entry, mark: _Mark, tracker: Tracker, writer: _Writer) -> None:
        """One record for ``entry``. Entries touched in a batch are written in the order
        first touched, so an entry that went (written as gone, if it ever was written)
        comes before one that took its subject's place (written whole)."""
        subject, held = entry.subject, entry.segment
        if tracker.entries.get(subject) is not entry:  # gone
            if held is not None:
                self._let_go(held)
                record = orjson.dumps({"t": _identity(subject), "n": 0, "s": []})
                self.graves[subject] = writer.add(subject, record, 1, (), whole=True)
                entry.segment = None
            return
        if mark.slots is not None and held is not None and entry.deltas < self.max_deltas:
            rows: list[Row] = []
            used = []
            for i in sorted(mark.slots):
                row = entry.row(i)
                if row is None:
                    rows.append((i,))
                else:
                    rows.append((i, *row))
                    used.append(row[2])
            fields: dict[str, Any] = {"t": _identity(subject), "s": rows}
            if mark.meta and entry.meta is not None:
                fields["m"] = orjson.Fragment(encode_meta(entry.meta))
            writer.add(subject, orjson.dumps(fields), 1 + len(rows), used, whole=False)
            entry.deltas += 1
            return
        if held is None:
            held = self.graves.pop(subject, None)
        if held is not None:
            self._let_go(held)
        rows = list(entry.rows())
        record = orjson.dumps(
            {
                "t": _identity(subject),
                "n": entry.capacity,
                "s": rows,
                "m": None if entry.meta is None else orjson.Fragment(encode_meta(entry.meta)),
            }
        )
        entry.segment = writer.add(
            subject, record, 1 + len(rows), entry.context_indices(), whole=True
        )
        entry.deltas = 0

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
                        self._mark(entry).slots = None  # (gone ones are written as such)
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

    def context_json(self, contexts: Contexts, i: int) -> bytes:
        ctx = contexts[i]
        cached = self._contexts_json.get(i)
        if cached is None or cached[0] is not ctx:
            cached = self._contexts_json[i] = (ctx, encode_context(ctx))
        return cached[1]

    # -- restoring ----------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None, tracker: Tracker) -> None:
        """Apply one changelog record (oldest first) to ``tracker``."""
        try:
            seq = _decode_key(key)
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
            contexts = {int(i): Context(**fields) for i, fields in data["c"].items()}
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
        subject = _subject(record["t"])
        entry = tracker.restore_entry(subject)
        rows = record["s"]
        if "n" in record:
            entry.reset(int(record["n"]))
            meta = record.get("m")
            entry.meta = None if meta is None else decode_meta(meta)
            entry.segment, entry.deltas = seq, 0
            segment.wholes.append(subject)
        else:
            entry.deltas += 1
            if "m" in record:
                entry.meta = decode_meta(record["m"])
        for row in rows:
            if len(row) == 1:
                entry.vacate(int(row[0]))
            else:
                i, at, eid, c, bits = row
                entry.put(
                    i, float(at), int(eid), contexts[c], failed=bool(bits & 1), attempt=bits >> 1
                )
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
                self._dirty[entry] = _Mark(None)
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
