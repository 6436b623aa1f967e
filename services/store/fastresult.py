"""A quick reader of ``tests.results`` values, the store's hottest input. Pure.

Test executions come by the thousand per build, and validating each through the
pydantic model costs more than everything else the store does with it. :func:`read`
decodes the raw bytes with msgspec into :class:`Execution`, a typed record with the
model's fields and defaults (compiled code: no Python dict per value), and accepts only
what it can check completely: JSON objects with no field the model does not know, every
field of the type the model wants, strictly (no string for a number, no bool for an
int), ``received_at`` an ISO 8601 time of the one shape kitestream writes. Anything
else returns ``None`` and goes through the model (:class:`schemas.tests.TestResult`,
turned into the same record by :func:`from_model`), which stays the one authority: a
value this reader accepts is one the model accepts too, with the same meaning
(``tests/unit/store/test_fastresult.py`` compares the two).

``received_at`` is decoded as text and parsed here rather than by msgspec: msgspec rounds
fractions of a second beyond microseconds where the model truncates them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from schemas.tests import TestResult

__all__ = ["Execution", "FailureDetail", "Read", "RunEnv", "TestIdentity", "as_dump", "read"]


# gc=False: these records hold only strings, numbers and lists of strings, never
# cycles, so the garbage collector need not track the thousands a batch makes.
class TestIdentity(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    __test__ = False  # not a pytest test class

    name: str
    id: str | None = None
    scope: str = ""
    location: str | None = None
    file_name: str | None = None


class RunEnv(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    ci: str | None = None
    key: str | None = None
    number: str | None = None
    job_id: str | None = None
    branch: str | None = None
    commit_sha: str | None = None
    message: str | None = None
    url: str | None = None


class FailureDetail(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    expanded: list[str] = []
    backtrace: list[str] = []


class Execution(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One ``tests.results`` value, fields as in :class:`schemas.tests.TestResult`;
    ``received_at`` as it was sent (its time is the other half of :data:`Read`)."""

    event_id: str
    suite: str
    upload_id: str
    received_at: str
    test: TestIdentity
    result: Literal["passed", "failed", "skipped", "unknown"]
    attempt: int = 1
    duration_s: float | None = None
    failure_reason: str | None = None
    failure_expanded: list[FailureDetail] = []
    run_env: RunEnv = msgspec.field(default_factory=RunEnv)


# An execution and its ``received_at`` as a timezone-aware UTC time.
Read = tuple[Execution, datetime]

_DECODER = msgspec.json.Decoder(Execution)

# The one shape of time accepted here (what kitestream writes); others go to the model.
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?", re.ASCII)


def _time(value: str) -> datetime | None:
    if not _ISO.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # out of range in UTC: the model says why
        return None


def read(raw: bytes) -> Read | None:
    """The execution and its time, or ``None`` when the value needs the model to be
    judged."""
    try:
        execution = _DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    at = _time(execution.received_at)
    if at is None:
        return None
    return execution, at


def from_model(model: TestResult) -> Read:
    """The record of a value the model has read (what :func:`read` gives for the
    values it accepts)."""
    test, env = model.test, model.run_env
    execution = Execution(
        event_id=model.event_id,
        suite=model.suite,
        upload_id=model.upload_id,
        received_at=model.received_at.isoformat(),
        test=TestIdentity(
            name=test.name,
            id=test.id,
            scope=test.scope,
            location=test.location,
            file_name=test.file_name,
        ),
        result=model.result,
        attempt=model.attempt,
        duration_s=model.duration_s,
        failure_reason=model.failure_reason,
        failure_expanded=[
            FailureDetail(expanded=list(d.expanded), backtrace=list(d.backtrace))
            for d in model.failure_expanded
        ],
        run_env=RunEnv(**env.model_dump()),
    )
    return execution, model.received_at


def as_dump(read: Read) -> dict[str, Any]:
    """The record as ``TestResult.model_dump()`` gives the value (for comparisons)."""
    execution, at = read
    dump: dict[str, Any] = msgspec.to_builtins(execution)
    dump["received_at"] = at
    return dump
