"""The changelog's records: segments, and how one batch's changes are packed into them.

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

Contexts are numbered within each segment, so a segment can be read on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import orjson
from pydantic import ValidationError

from schemas.flakiness import Evidence
from services.flakiness import BadRecord
from services.flakiness.execution import Context, StepSubject, Subject, TestSubject
from services.flakiness.status import Meta
from services.flakiness.tracker import Changes, Entry
from services.flakiness.window import Contexts

__all__ = [
    "JsonByIdentity",
    "Segment",
    "SegmentWriter",
    "decode_key",
    "decode_meta",
    "encode_context",
    "encode_meta",
    "segment_key",
    "subject_of",
]

# Final: compiled, C statics rather than a module attribute lookup per record
_dumps: Final = orjson.dumps
_fragment: Final = orjson.Fragment
_CONTEXT_FIELDS = tuple(f for f, d in Context.__dataclass_fields__.items() if d.init)

T = TypeVar("T")


def segment_key(seq: int) -> bytes:
    return b'["g",%d]' % seq


def decode_key(raw: bytes) -> int:
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


def subject_of(parts: list[Any]) -> Subject:
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


class JsonByIdentity(Generic[T]):
    """Immutable values as JSON (``encode``), cached by identity: values that recur, such
    as the same few contexts batch after batch, or a flagged test's evidence at each of
    its states, are written once."""

    def __init__(self, encode: Callable[[T], bytes], limit: int = 4096) -> None:
        self._encode = encode
        self._cached: dict[int, tuple[T, bytes]] = {}
        self._limit = limit

    def __call__(self, value: T) -> bytes:
        cached = self._cached.get(id(value))
        if cached is None or cached[0] is not value:
            if len(self._cached) > self._limit:
                self._cached.clear()
            cached = self._cached[id(value)] = (value, self._encode(value))
        return cached[1]


@dataclass(slots=True)
class Segment:
    """A live segment: its size in units, the subjects whose whole record it got, and
    how many of them (and of the gone subjects) still have their last whole record in it."""

    seq: int
    units: int
    wholes: list[Subject]
    live: int = 0


class SegmentWriter:
    """Packs one batch's records into segments of about ``segment_bytes``, numbered from
    ``first``, each with the contexts its records refer to (numbered within it).

    Each segment it opens goes into ``live`` at once (whole records in it may be let go
    of in the same batch), with its units and whole records counted as they come;
    ``out`` gets the (key, value) records to produce."""

    def __init__(
        self,
        first: int,
        segment_bytes: int,
        context_json: JsonByIdentity[Context],
        live: dict[int, Segment],
    ) -> None:
        self.next_seq = first
        self.segment_bytes = segment_bytes
        self.context_json = context_json
        self.live = live
        self.units = 0
        self.out: list[tuple[bytes, bytes | None]] = []
        self._segment: Segment | None = None
        self._records: list[bytes] = []
        self._contexts: dict[int, tuple[int, Context]] = {}  # id(ctx) -> (number, ctx)
        self._size = 0

    def open(self) -> None:
        """Start a new segment if the current one is full (call before numbering)."""
        if self._segment is None or self._size > self.segment_bytes:
            self.close()
            segment = self._segment = Segment(self.next_seq, 0, [])
            self.live[segment.seq] = segment
            self.next_seq += 1

    def number(self, ctx: Context) -> int:
        """The context's number in the current segment."""
        known = self._contexts.get(id(ctx))
        if known is None:
            known = self._contexts[id(ctx)] = (len(self._contexts), ctx)
            self._size += len(self.context_json(ctx)) + 8
        return known[0]

    def delta(self, entry: Entry, added: list[Changes], meta: bool) -> None:
        """The executions ``entry`` took in, as the changes that took each in, with its
        event-id hash (and its status, if ``meta``: it changed)."""
        self.open()
        # a loop calling self.number, not a comprehension over a bound method: compiled,
        # this is then a native call
        rows = []
        for change in added:
            x = change.execution
            bits = (min(x.attempt, 127) << 1) | x.failed
            rows.append((x.at, change.eid, self.number(x.context), bits))
        fields: dict[str, Any] = {"t": _identity(entry.subject), "s": rows}
        if meta and entry.meta is not None:
            fields["m"] = _fragment(encode_meta(entry.meta))
        self.add(entry.subject, _dumps(fields), 1 + len(added), whole=False)
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
        self.units += units
        if whole:
            segment.wholes.append(subject)
            segment.live += 1
        return segment.seq

    def close(self) -> None:
        segment = self._segment
        if segment is None:
            return
        contexts = {n: orjson.Fragment(self.context_json(c)) for n, c in self._contexts.values()}
        value = b'{"c":%s,"r":[%s]}' % (
            orjson.dumps(contexts, option=orjson.OPT_NON_STR_KEYS),
            b",".join(self._records),
        )
        self.out.append((segment_key(segment.seq), value))
        self._segment, self._records, self._contexts, self._size = None, [], {}, 0
