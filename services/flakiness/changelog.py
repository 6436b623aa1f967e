"""The changelog: the tracker's windows and statuses, written once per batch, read back.

Each batch writes what it changed as one or a few **segments**, records keyed
``["g", seq]`` with ``seq`` counting up. A segment holds one record per subject the
batch touched, and the contexts (build, job, commit…) its executions refer to::

    {"c": {"0": {"build_id": …}, …},
     "r": [{"t": ["test", suite, scope, name, file], "w": 1,
            "s": [[at, eid, 0, bits], …], "m": {…}},
           {"t": ["step", pipeline, step_key], "s": [[at, eid, 0, bits]]},
           …]}

A record with ``"w"`` is **whole**: the subject's window holds exactly the executions
listed (time, event-id hash, context, failed | attempt << 1) and ``"m"`` is its status
(``null``: none); one with nothing listed and no status says the subject is gone. A
record without ``"w"`` is a **delta** on the subject's last whole record: the
executions the window took in, in that order (some may have left it since), and, if
present, the new status. Reading the segments in order and offering each window the
same executions in the same order (``Window.take``) rebuilds every window exactly.

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
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.flakiness import Evidence
from services.flakiness import BadRecord
from services.flakiness.execution import Context, Execution, StepSubject, Subject, TestSubject
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


def _identity(subject: Subject) -> tuple[Any, ...]:
    """``("test", suite, scope, name, file)`` or ``("step", pipeline, step_key)``."""
    return (("test",) if type(subject) is TestSubject else ("step",)) + subject


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
    """An entry touched in this batch: the executions it took in (with their event-id
    hashes), or ``None``: write it whole."""

    added: list[tuple[Execution, int]] | None
    meta: bool = False


class _Writer:
    """Packs one batch's records into segments of about ``segment_bytes``, each with the
    contexts its records refer to (numbered within the segment)."""

    def __init__(self, log: Changelog) -> None:
        self.log = log
        self.out: list[tuple[bytes, bytes | None]] = []
        self.first = log.next_seq
        self._segment: Segment | None = None
        self._records: list[bytes] = []
        self._contexts: dict[int, tuple[int, Context]] = {}  # id(ctx) -> (number, ctx)
        self._size = 0

    def open(self) -> None:
        """Start a new segment if the current one is full (call before numbering)."""
        if self._segment is None or self._size > self.log.segment_bytes:
            self.close()
            segment = self._segment = Segment(self.log.next_seq, 0, [])
            self.log.segments[segment.seq] = segment
            self.log.next_seq += 1

    def number(self, ctx: Context) -> int:
        """The context's number in the current segment."""
        known = self._contexts.get(id(ctx))
        if known is None:
            known = self._contexts[id(ctx)] = (len(self._contexts), ctx)
            self._size += len(self.log.context_json(ctx)) + 8
        return known[0]

    def delta(self, entry: Entry, mark: _Mark) -> None:
        """The executions ``entry`` took in (and its status, if that changed)."""
        self.open()
        number = self.number
        added = mark.added
        assert added is not None
        fields: dict[str, Any] = {
            "t": _identity(entry.subject),
            "s": [
                (x.at, eid, number(x.context), (min(x.attempt, 127) << 1) | x.failed)
                for x, eid in added
            ],
        }
        if mark.meta and entry.meta is not None:
            fields["m"] = orjson.Fragment(encode_meta(entry.meta))
        self.add(entry.subject, orjson.dumps(fields), 1 + len(added), whole=False)
        entry.deltas += 1

    def whole(self, entry: Entry, table: Contexts) -> int:
        """Everything ``entry`` holds; the segment it went to."""
        self.open()
        number = self.number
        rows = [(at, eid, number(table[ci]), bits) for at, eid, ci, bits in entry.rows()]
        meta = None if entry.meta is None else orjson.Fragment(encode_meta(entry.meta))
        record = orjson.dumps({"t": _identity(entry.subject), "w": 1, "s": rows, "m": meta})
        return self.add(entry.subject, record, 1 + len(rows), whole=True)

    def gone(self, subject: Subject) -> int:
        """That ``subject`` is no longer tracked; the segment it went to."""
        self.open()
        record = orjson.dumps({"t": _identity(subject), "w": 1, "s": [], "m": None})
        return self.add(subject, record, 1, whole=True)

    def add(self, subject: Subject, record: bytes, units: int, whole: bool) -> int:
        segment = self._segment
        assert segment is not None
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
            n: orjson.Fragment(self.log.context_json(c)) for n, c in self._contexts.values()
        }
        value = b'{"c":%s,"r":[%s]}' % (
            orjson.dumps(contexts, option=orjson.OPT_NON_STR_KEYS),
            b",".join(self._records),
        )
        self.out.append((segment_key(segment.seq), value))
        self._segment, self._records, self._contexts, self._size = None, [], {}, 0


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
        self._contexts_json: dict[int, tuple[Context, bytes]] = {}  # id(ctx) -> JSON
        self._unreadable = 0

    # -- writing ----------------------------------------------------------------------

    def changed(self, changes: Changes) -> None:
        """Note what one execution changed, to be written at :meth:`flush`."""
        mark = self._dirty.get(changes.entry)
        if mark is None:
            self._dirty[changes.entry] = _Mark([(changes.execution, changes.eid)])
        elif mark.added is not None:
            mark.added.append((changes.execution, changes.eid))
        for entry in changes.cleared:
            self._mark(entry).added = None
        for entry in changes.metas:
            self._mark(entry).meta = True

    def _mark(self, entry: Entry) -> _Mark:
        mark = self._dirty.get(entry)
        if mark is None:
            mark = self._dirty[entry] = _Mark([])
        return mark

    def flush(self, tracker: Tracker) -> list[tuple[bytes, bytes | None]]:
        """The batch's records: new segments, then tombstones of segments now free.

        Entries are written in the order first touched, so an entry that went (written
        as gone, if it ever was written) comes before one that took its subject's place
        (written whole)."""
        self._evacuate(tracker)
        writer = _Writer(self)
        entries, max_deltas = tracker.entries, self.max_deltas
        for entry, mark in self._dirty.items():
            subject, held = entry.subject, entry.segment
            if entries.get(subject) is not entry:  # gone
                if held is not None:
                    self._let_go(held)
                    self.graves[subject] = writer.gone(subject)
                    entry.segment = None
            elif mark.added is not None and held is not None and entry.deltas < max_deltas:
                writer.delta(entry, mark)
            else:
                if held is None:
                    held = self.graves.pop(subject, None)
                if held is not None:
                    self._let_go(held)
                entry.segment = writer.whole(entry, tracker.contexts)
                entry.deltas = 0
        self._dirty.clear()
        writer.close()
        return writer.out + self._release(writer.first)

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
                        self._mark(entry).added = None  # (gone ones are written as such)
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

    def context_json(self, ctx: Context) -> bytes:
        cached = self._contexts_json.get(id(ctx))
        if cached is None or cached[0] is not ctx:
            if len(self._contexts_json) > 4096:
                self._contexts_json.clear()
            cached = self._contexts_json[id(ctx)] = (ctx, encode_context(ctx))
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
        subject = _subject(record["t"])
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
