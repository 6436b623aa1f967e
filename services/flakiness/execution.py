"""What the core counts: one pass or fail of one test or step, and where it ran.

A test is identified by suite + scope + name (+ file), a step by pipeline + step key.
The :class:`Context` (build, job, commit, branch, links) is shared by every execution
of one job, so a thousand results of one upload hold one context between them.
``services.flakiness.inputs`` makes executions out of input messages.

Subjects are named tuples: made, hashed and compared in C, which matters at one per
input record (they are dictionary keys everywhere). An execution is a small class
with slots, native when compiled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from sys import intern
from typing import NamedTuple

from mypy_extensions import i64

__all__ = [
    "Context",
    "Execution",
    "StepSubject",
    "Subject",
    "TestSubject",
    "event_hash",
    "interned",
]


class TestSubject(NamedTuple):
    """A test: suite + scope + name (+ file)."""

    suite: str
    scope: str
    name: str
    file: str | None = None

    @property
    def kind(self) -> str:
        return "test"

    @property
    def key(self) -> str:
        base = f"{self.suite}/{self.scope}/{self.name}"
        return base if self.file is None else f"{base}/{self.file}"

    @property
    def label(self) -> str:
        return f"{self.scope} {self.name}".strip()


# not a pytest test class (an attribute set from outside: mypyc compiles this module)
setattr(TestSubject, "__test__", False)  # noqa: B010


class StepSubject(NamedTuple):
    """A pipeline step: pipeline slug + step key (the label when a step has no key)."""

    pipeline: str
    step_key: str

    @property
    def kind(self) -> str:
        return "step"

    @property
    def key(self) -> str:
        return f"{self.pipeline}#{self.step_key}"

    @property
    def label(self) -> str:
        return f"step {self.step_key}"


Subject = TestSubject | StepSubject


def _fields_of(ctx: Context) -> tuple[object, ...]:
    """The fields that make a context what it is (those it is compared by)."""
    return (
        ctx.build_id,
        ctx.build_number,
        ctx.job_id,
        ctx.commit,
        ctx.branch,
        ctx.on_default_branch,
        ctx.build_url,
        ctx.job_url,
        ctx.pipeline,
        ctx.suite,
        ctx.retry_type,
        ctx.shard,
    )


@dataclass(frozen=True, slots=True)
class Context:
    """Where executions ran. ``run`` is the (build, suite) pair for tests, ``None`` for steps.

    Its hash is computed once: windows look contexts up by value (see ``Contexts``)."""

    build_id: str
    build_number: str | None = None
    job_id: str | None = None
    commit: str | None = None
    branch: str | None = None
    on_default_branch: bool = False
    build_url: str | None = None
    job_url: str | None = None
    pipeline: str | None = None
    suite: str | None = None
    retry_type: str | None = None  # steps: this job is a retry of that type
    shard: int | None = None  # steps: parallel_group_index
    run: tuple[str, str] | None = field(init=False, compare=False, repr=False)
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        run = None if self.suite is None else (self.build_id, self.suite)
        object.__setattr__(self, "run", run)
        object.__setattr__(self, "_hash", hash(_fields_of(self)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def url(self) -> str | None:
        return self.job_url or self.build_url


class Execution:
    """One pass or fail at event time ``at`` (epoch seconds).

    A plain class with slots, not a named tuple: compiled with mypyc it is a native
    class, made by a direct C call and read by field offset (a named tuple is made
    through ``tuple.__new__`` and read through a Python-level call per field).
    Compared and hashed by its fields, as the named tuple was."""

    __slots__ = ("at", "attempt", "context", "event_id", "failed", "subject")

    def __init__(  # noqa: PLR0917 (positional, as the named tuple it replaces was)
        self,
        subject: Subject,
        context: Context,
        at: float,
        event_id: str,
        failed: bool,
        attempt: int = 1,
    ) -> None:
        self.subject = subject
        self.context = context
        self.at = at
        self.event_id = event_id
        self.failed = failed
        self.attempt = attempt

    def fields(self) -> tuple[Subject, Context, float, str, bool, int]:
        return (self.subject, self.context, self.at, self.event_id, self.failed, self.attempt)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Execution) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        return (
            f"Execution(subject={self.subject!r}, context={self.context!r}, at={self.at!r}, "
            f"event_id={self.event_id!r}, failed={self.failed!r}, attempt={self.attempt!r})"
        )

    @property
    def eid(self) -> int:
        """The event id as a signed 64-bit number (how windows store it)."""
        return event_hash(self.event_id)


def interned(subject: Subject) -> Subject:
    """``subject`` with its shared parts interned (suite, scope and file of a test, a
    step's pipeline): thousands of tracked subjects hold one copy of each."""
    if isinstance(subject, TestSubject):
        suite, scope, name, file = subject
        shared = intern(suite), intern(scope), None if file is None else intern(file)
        if shared[0] is suite and shared[1] is scope and shared[2] is file:
            return subject  # interned already
        return TestSubject(shared[0], shared[1], name, shared[2])
    pipeline = intern(subject.pipeline)
    return subject if pipeline is subject.pipeline else StepSubject(pipeline, subject.step_key)


def event_hash(event_id: str) -> int:
    """A 64-bit signed hash of an event id (hex ids use their first 16 digits)."""
    if len(event_id) >= 16:
        head = event_id[:16].encode()  # (a lone surrogate here fails as hash_text would)
        if _hex_head(head):  # the usual id: read here, natively
            return _signed_hex(head)
    try:
        value = int(event_id[:16], 16) if len(event_id) >= 16 else hash_text(event_id)
    except ValueError:
        value = hash_text(event_id)
    return value - (1 << 64) if value >= (1 << 63) else value


def _hex_head(data: bytes) -> bool:
    """Whether ``data`` is 16 hex digits (16 bytes of 16 characters: all ASCII)."""
    if len(data) != 16:
        return False
    i: i64 = 0
    while i < 16:
        c: i64 = data[i]
        if not (48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70):  # 0-9 a-f A-F
            return False
        i += 1
    return True


def _signed_hex(data: bytes) -> i64:
    """16 hex digits as ``int(data, 16)`` read as a signed 64-bit number, in two 32-bit
    halves (compiled, ``i64`` is a native integer and no step leaves its range)."""
    high: i64 = 0
    low: i64 = 0
    i: i64 = 0
    while i < 16:
        c: i64 = data[i]
        digit: i64 = c - 48 if c <= 57 else (c - 87 if c >= 97 else c - 55)
        if i < 8:
            high = high * 16 + digit
        else:
            low = low * 16 + digit
        i += 1
    if high >= 0x80000000:
        high -= 0x100000000
    return high * 0x100000000 + low


def hash_text(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
