"""A quick reader of ``tests.results`` values, the store's hottest input. Pure.

Test executions come by the thousand per build, and validating each through the
pydantic model costs more than everything else the store does with it. :func:`read`
accepts only values it can check completely by hand: JSON objects with no field the
model does not know, every field of the type the model wants, ``received_at`` an ISO
8601 time. Anything else returns ``None`` and goes through the model
(:class:`schemas.tests.TestResult`), which stays the one authority: a value this
reader accepts is one the model accepts too, with the same meaning
(``tests/unit/store/test_fastresult.py`` compares the two).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["read"]

_TOP = frozenset(
    {
        "event_id",
        "suite",
        "upload_id",
        "received_at",
        "test",
        "result",
        "attempt",
        "duration_s",
        "failure_reason",
        "failure_expanded",
        "run_env",
    }
)
_TEST = frozenset({"id", "scope", "name", "location", "file_name"})
_ENV = frozenset({"ci", "key", "number", "job_id", "branch", "commit_sha", "message", "url"})
_RESULTS = frozenset({"passed", "failed", "skipped", "unknown"})


def _optional_strings(data: dict[str, Any], known: frozenset[str]) -> bool:
    return data.keys() <= known and all(
        value is None or type(value) is str for value in data.values()
    )


# The one shape of time accepted here (what kitestream writes); others go to the model.
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?", re.ASCII)


def _time(value: object) -> datetime | None:
    if type(value) is not str or not _ISO.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read(raw: bytes) -> dict[str, Any] | None:  # noqa: PLR0911, PLR0912 - one exit per check
    """The execution as a dict shaped like ``TestResult.model_dump()``, or ``None`` when
    the value needs the model to be judged."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not data.keys() <= _TOP:
        return None
    for name in ("event_id", "suite", "upload_id"):
        if type(data.get(name)) is not str:
            return None
    outcome = data.get("result")
    if type(outcome) is not str or outcome not in _RESULTS:
        return None
    received_at = _time(data.get("received_at"))
    test = data.get("test")
    if received_at is None or type(test) is not dict or not _optional_strings(test, _TEST):
        return None
    if type(test.get("name")) is not str or type(test.setdefault("scope", "")) is not str:
        return None
    env = data.setdefault("run_env", {})
    if type(env) is not dict or not _optional_strings(env, _ENV):
        return None
    attempt = data.setdefault("attempt", 1)
    duration = data.setdefault("duration_s", None)
    if type(attempt) is not int or type(duration) not in (int, float, type(None)):
        return None
    reason = data.setdefault("failure_reason", None)
    if data.setdefault("failure_expanded", []) != [] or not (reason is None or type(reason) is str):
        return None  # detail lists are rare: the model checks them
    data["received_at"] = received_at
    if duration is not None:
        data["duration_s"] = float(duration)
    for name in ("id", "location", "file_name"):
        test.setdefault(name, None)
    for name in _ENV:
        env.setdefault(name, None)
    return data
