"""The changelog records: what the tracker needs to be rebuilt, as compact JSON.

Two kinds of record, on the changelog partition of the input partition they belong to:

* ``["s", kind, *identity, slot]`` → one execution in one window slot. A slot is
  overwritten when its execution is evicted, so compaction keeps at most N per subject.
* ``["m", kind, *identity]`` → the subject's status and evidence history (only for
  subjects that ever had evidence).

A tombstone (``None`` value) deletes either. The identity of a test is
``[suite, scope, name, file]``, of a step ``[pipeline, step_key]``.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from schemas.flakiness import Evidence
from services.flakiness import BadRecord
from services.flakiness.execution import Context, Execution, StepSubject, Subject, TestSubject
from services.flakiness.status import Meta

__all__ = [
    "decode_key",
    "decode_meta",
    "decode_slot",
    "encode_context",
    "encode_meta",
    "encode_slot",
    "meta_key",
    "slot_key",
]

_CONTEXT_FIELDS = tuple(f for f, d in Context.__dataclass_fields__.items() if d.init)


def _identity(subject: Subject) -> list[Any]:
    if isinstance(subject, TestSubject):
        return ["test", subject.suite, subject.scope, subject.name, subject.file]
    return ["step", subject.pipeline, subject.step_key]


def slot_key(subject: Subject, index: int) -> bytes:
    return orjson.dumps(["s", *_identity(subject), index])


def meta_key(subject: Subject) -> bytes:
    return orjson.dumps(["m", *_identity(subject)])


def decode_key(raw: bytes) -> tuple[str, Subject, int | None]:
    """``("s", subject, slot)`` or ``("m", subject, None)``."""
    try:
        parts = orjson.loads(raw)
        record, kind = parts[0], parts[1]
        if kind == "test":
            subject: Subject = TestSubject(parts[2], parts[3], parts[4], parts[5])
            rest = parts[6:]
        elif kind == "step":
            subject = StepSubject(parts[2], parts[3])
            rest = parts[4:]
        else:
            raise BadRecord(f"unknown subject kind in changelog key {raw!r}")
    except (orjson.JSONDecodeError, IndexError, TypeError) as exc:
        raise BadRecord(f"unreadable changelog key {raw!r}") from exc
    if record == "s":
        return "s", subject, int(rest[0])
    if record == "m":
        return "m", subject, None
    raise BadRecord(f"unknown changelog record {raw!r}")


def encode_context(ctx: Context) -> bytes:
    """The context part of a slot record (cache it: many slots share one context)."""
    return orjson.dumps(
        {f: getattr(ctx, f) for f in _CONTEXT_FIELDS if getattr(ctx, f) not in (None, False)}
    )


def encode_slot(execution: Execution, context: bytes | None = None) -> bytes:
    """One slot record; ``context`` is :func:`encode_context` of its context, if at hand."""
    encoded = encode_context(execution.context) if context is None else context
    return orjson.dumps(
        {
            "at": execution.at,
            "id": execution.event_id,
            "f": int(execution.failed),
            "a": execution.attempt,
            "c": orjson.Fragment(encoded),
        }
    )


def decode_slot(subject: Subject, raw: bytes) -> Execution:
    try:
        data = orjson.loads(raw)
        context = Context(**data["c"])
        return Execution(
            subject, context, float(data["at"]), str(data["id"]), bool(data["f"]), int(data["a"])
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadRecord(f"unreadable changelog slot for {subject.key}") from exc


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


def decode_meta(subject: Subject, raw: bytes) -> Meta:
    try:
        data = orjson.loads(raw)
        return Meta(
            flaky=bool(data["flaky"]),
            episodes=int(data["episodes"]),
            since=data["since"],
            last_evidence_at=data["last"],
            after=int(data["after"]),
            evidence=[Evidence.model_validate(e) for e in data["evidence"]],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
        raise BadRecord(f"unreadable changelog status for {subject.key}") from exc
