"""Input messages as executions: ``tests.results`` and ``buildkite.jobs`` values.

This is the edge: values are read as decoded JSON, tolerant of fields kitestream does
not use. A ``tests.results`` value of the usual shape is read by msgspec straight from
its bytes (:func:`from_result_value`, once per result); any other goes through the
tolerant :func:`from_test_result`, with the same outcome. Skipped and unknown test
results, and jobs that did not finish passed or failed (cancelled, blocked, waiting),
are not executions and give ``None``; a value
that lacks what an execution needs raises :class:`~services.flakiness.BadRecord`.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from sys import intern
from typing import Any, Final

import msgspec
import orjson

from services.flakiness import BadRecord
from services.flakiness.execution import Context, Execution, StepSubject, TestSubject
from services.flakiness.resultshape import RESULT

__all__ = [
    "LastContext",
    "from_job_event",
    "from_result_value",
    "from_test_result",
    "json_object",
    "pipeline_from_url",
]

# Final: compiled, these are C statics rather than a module dictionary lookup per use
_MAX_ATTEMPT: Final = 1 << 64  # orjson reads larger integers as floats (not an attempt number)

_new: Final = tuple.__new__
_decode: Final = RESULT.decode  # bound once: no method lookup per result
_astuple: Final = msgspec.structs.astuple
_TestSubject: Final = TestSubject
_BUILD_URL = re.compile(r"^https?://[^/]+/(?P<org>[^/]+)/(?P<pipeline>[^/]+)/builds/(?P<n>\d+)")


def pipeline_from_url(url: str | None) -> str | None:
    """``https://buildkite.com/<org>/<pipeline>/builds/<n>`` → ``<pipeline>``."""
    if not url:
        return None
    match = _BUILD_URL.match(url)
    return match["pipeline"] if match else None


def _time(value: Any) -> float:
    """Epoch seconds from ISO 8601 (``…Z`` or an offset), Buildkite's older
    ``2026-08-01 10:00:05 UTC`` form, or a number; naive times are UTC."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(" UTC"):
            text = text[:-4] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise BadRecord(f"not a timestamp: {value!r}") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise BadRecord(f"not a timestamp: {value!r}")


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def json_object(value: bytes) -> dict[str, Any]:
    """``value`` decoded, if it is a JSON object."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadRecord(f"not JSON: {exc}") from exc
    if type(data) is not dict:
        raise BadRecord("not a JSON object")
    return data


class LastContext:
    """Remembers the context of the previous result: the results of one upload arrive
    together and share it, so most results reuse one :class:`Context` instead of
    building (and later hashing) an equal one each. ``raw_env``: the ``run_env`` bytes
    it was made from, when read by :func:`from_result_value`.

    ``scope`` and ``file``: the previous result's test scope and file, interned. The
    tests of one file arrive together too, and a subject made of the interned strings
    (each hashed once, the same objects as in the tracked subject's key) is looked up
    in the tracker without hashing and comparing them again; only the name is fresh."""

    __slots__ = ("at", "context", "env", "file", "raw_env", "received_at", "scope", "suite")

    def __init__(self) -> None:
        self.suite: str | None = None
        self.env: dict[str, Any] | None = None
        self.raw_env: object = None
        self.context: Context | None = None
        self.received_at: object = None
        self.at = 0.0
        self.scope = ""
        self.file = ""

    def scope_of(self, scope: str) -> str:
        """``scope``, as the interned string when it is the previous result's."""
        if scope != self.scope:
            self.scope = intern(scope)
        return self.scope

    def file_of(self, file: str) -> str:
        """``file``, as the interned string when it is the previous result's."""
        if file != self.file:
            self.file = intern(file)
        return self.file

    def time(self, received_at: object) -> float:
        """``received_at`` in epoch seconds (one upload's results share it)."""
        if received_at != self.received_at:
            self.at = _time(received_at)
            self.received_at = received_at
        return self.at


def from_test_result(
    data: dict[str, Any], default_branches: frozenset[str], last: LastContext | None = None
) -> Execution | None:
    """A ``tests.results`` value (decoded JSON) as an execution, or ``None`` if not one.

    This runs once per result: fields that are already strings are taken as they are,
    and names are interned only when the tracker first meets the test."""
    try:
        result = data["result"]
        test = data["test"]
        suite = data["suite"]
        event_id = data["event_id"]
        received_at = data["received_at"]
        name = test["name"]
    except (KeyError, TypeError) as exc:
        raise BadRecord(f"not a test result: missing {exc}") from exc
    if result not in ("passed", "failed"):
        return None
    if type(suite) is not str:
        suite = str(suite)
    if type(event_id) is not str:
        event_id = str(event_id)
    if type(name) is not str:
        name = str(name)
    at = _time(received_at) if last is None else last.time(received_at)
    env = data.get("run_env") or {}
    upload_id = data.get("upload_id")
    if last is None:
        context = _test_context(upload_id, env, suite, event_id, default_branches)
    elif last.context is not None and last.suite == suite and last.env == env:
        context = last.context
    else:
        context = _test_context(upload_id, env, sys.intern(suite), event_id, default_branches)
        last.suite, last.env, last.context = suite, env, context
    if last is not None:
        last.raw_env = None
    scope = test.get("scope")
    if type(scope) is not str:
        scope = str(scope) if scope else ""
    file = test.get("file_name")
    if type(file) is not str or not file:
        file = str(file) if file else None
    attempt = data.get("attempt")
    if type(attempt) is not int or attempt < 1:
        attempt = 1
    # tuple.__new__: a named tuple's own constructor is a Python call, this is not
    subject = _new(TestSubject, (suite, scope, name, file))
    return Execution(subject, context, at, event_id, result == "failed", attempt)


def from_result_value(
    value: bytes, default_branches: frozenset[str], last: LastContext
) -> Execution | None:
    """A ``tests.results`` value (its bytes) as an execution: :func:`from_test_result`
    of the decoded value, faster for a value of the usual shape (``resultshape``)."""
    try:
        data = _decode(value)
    except msgspec.MsgspecError:  # another shape: the tolerant path judges it
        return from_test_result(json_object(value), default_branches, last)
    # the struct's fields as one tuple, in ResultShape's order (a call, then reads by
    # index, instead of a generic attribute lookup per field)
    fields: tuple[Any, ...] = _astuple(data)
    # typed (as ResultShape declares them): compiled, compared natively, not through
    # a generic rich comparison each
    result: str = fields[0]
    if result not in ("passed", "failed"):
        return None
    at = last.time(fields[4])
    suite: str = fields[2]
    raw_env = fields[7]
    context = last.context
    if context is None or last.suite != suite or raw_env != last.raw_env:
        env = orjson.loads(memoryview(raw_env)) if raw_env else None
        env = env or {}
        if type(env) is not dict:  # as the tolerant path fails on it
            return from_test_result(json_object(value), default_branches, last)
        if context is None or last.suite != suite or last.env != env:
            suite = intern(suite)
            context = _test_context(fields[6], env, suite, fields[3], default_branches)
            last.suite, last.env, last.context = suite, env, context
        last.raw_env = raw_env
    if last.suite is not None:  # equal to suite here, and interned
        suite = last.suite
    test: tuple[Any, ...] = _astuple(fields[1])  # TestShape's: name, scope, file_name
    scope = test[1]
    file = test[2]
    attempt: int | None = fields[5]
    if attempt is None or attempt < 1 or attempt >= _MAX_ATTEMPT:
        attempt = 1
    subject = _new(
        _TestSubject,
        (
            suite,
            "" if scope is None else last.scope_of(scope),
            test[0],
            last.file_of(file) if file else None,
        ),
    )
    return Execution(subject, context, at, fields[3], result == "failed", attempt)


def _test_context(
    upload_id: object,
    env: dict[str, Any],
    suite: str,
    event_id: str,
    default_branches: frozenset[str],
) -> Context:
    url = _str(env.get("url"))
    build_id = _str(env.get("key")) or _str(upload_id) or event_id
    branch = _str(env.get("branch"))
    return Context(
        build_id=build_id,
        build_number=_str(env.get("number")),
        job_id=_str(env.get("job_id")),
        commit=_str(env.get("commit_sha")),
        branch=branch,
        on_default_branch=branch in default_branches,
        build_url=url,
        job_url=f"{url}#{env['job_id']}" if url and env.get("job_id") else None,
        pipeline=pipeline_from_url(url),
        suite=suite,
    )


_FAILED_STATES = frozenset({"failed", "timed_out"})


def from_job_event(data: dict[str, Any], default_branches: frozenset[str]) -> Execution | None:
    """A ``buildkite.jobs`` value as an execution of its step, or ``None`` if not one.

    Only ``job.finished`` of command jobs that passed or failed count. The execution is
    identified by the job id, so a job reported twice (under two event ids) counts once.
    """
    try:
        event = data["event"]
        job = data["job"]
        build = data["build"]
        pipeline = data["pipeline"]["slug"]
        job_id = str(job["id"])
        build_id = str(build["id"])
    except (KeyError, TypeError) as exc:
        raise BadRecord(f"not a job event: missing {exc}") from exc
    if event != "job.finished" or job.get("type") not in (None, "script"):
        return None
    state = job.get("state")
    if state == "passed" or (state is None and job.get("exit_status") == 0):
        failed = False
    elif state in _FAILED_STATES or (state is None and job.get("exit_status")):
        failed = True
    else:
        return None
    step_key = _str(job.get("step_key")) or _str(job.get("name"))
    if step_key is None:
        return None
    retry = job.get("retry_source") or {}
    retry_type = _str(retry.get("retry_type")) or _str(job.get("retry_type"))
    own_default = _str(data["pipeline"].get("default_branch"))
    branch = _str(build.get("branch"))
    on_default = branch == own_default if own_default else branch in default_branches
    context = Context(
        build_id=build_id,
        build_number=_str(build.get("number")),
        job_id=job_id,
        commit=_str(build.get("commit")),
        branch=branch,
        on_default_branch=on_default,
        build_url=_str(build.get("web_url")),
        job_url=_str(job.get("web_url")),
        pipeline=str(pipeline),
        retry_type=retry_type,
        shard=job.get("parallel_group_index"),
    )
    at = _time(job.get("finished_at") or data["received_at"])
    subject = StepSubject(pipeline=sys.intern(str(pipeline)), step_key=step_key)
    return Execution(subject, context, at, job_id, failed)
