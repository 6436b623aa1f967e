"""The msgspec fast path reads any ``tests.results`` value as the tolerant path does."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.flakiness.execution import Execution
from services.flakiness.inputs import (
    LastContext,
    from_result_value,
    from_test_result,
    json_object,
)
from tests.thorough import examples

MAIN = frozenset({"main"})
MISSING = object()

text = st.sampled_from(["", "a", "main", "pytest", "tests/test_x.py", "x y"])
odd = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(0, 2), st.lists(text, max_size=1)
)
maybe = st.one_of(text, odd, st.just(MISSING))
env = st.dictionaries(
    st.sampled_from(["key", "number", "job_id", "branch", "commit_sha", "url", "ci"]),
    st.one_of(
        text, st.integers(0, 3), st.none(), st.just("https://buildkite.com/acme/api/builds/3")
    ),
    max_size=4,
)
times = st.one_of(
    st.sampled_from(
        ["2027-01-15T08:00:05Z", "2027-01-15 08:00:05 UTC", "2027-01-15T09:00:00+01:00"]
    ),
    st.integers(0, 2_000_000_000),
    st.just("soon"),
    odd,
)


@st.composite
def values(draw: st.DrawFn) -> dict[str, Any]:
    test = {
        "name": draw(st.one_of(text, st.just(MISSING), odd)),
        "scope": draw(maybe),
        "file_name": draw(maybe),
        "location": "x.py:1",
    }
    fields = {
        "result": draw(st.one_of(st.sampled_from(["passed", "failed", "skipped"]), odd)),
        "test": draw(st.one_of(st.just(test), odd)),
        "suite": draw(st.one_of(st.sampled_from(["pytest", "jest"]), odd, st.just(MISSING))),
        "event_id": draw(st.one_of(st.sampled_from(["e1", "0123456789abcdef0123"]), odd)),
        "received_at": draw(st.one_of(times, st.just(MISSING))),
        "attempt": draw(st.one_of(st.integers(-1, 3), st.just(1 << 70), odd, st.just(MISSING))),
        "upload_id": draw(maybe),
        "run_env": draw(st.one_of(env, env, odd, st.just(MISSING))),
        "duration_s": 0.5,
    }
    if isinstance(fields["test"], dict):
        fields["test"] = {k: v for k, v in test.items() if v is not MISSING}
    return {k: v for k, v in fields.items() if v is not MISSING}


def outcome(read: Any, value: bytes, last: LastContext) -> Execution | str | None:
    try:
        return read(value, last)  # type: ignore[no-any-return]
    except Exception as exc:  # which error, compared below
        return type(exc).__name__


def tolerant(value: bytes, last: LastContext) -> Execution | None:
    return from_test_result(json_object(value), MAIN, last)


def fast(value: bytes, last: LastContext) -> Execution | None:
    return from_result_value(value, MAIN, last)


@settings(max_examples=examples(400))
@given(st.lists(values(), min_size=1, max_size=6))
def test_any_value_gives_the_tolerant_paths_execution_or_error(
    stream: list[dict[str, Any]],
) -> None:
    slow_last, fast_last = LastContext(), LastContext()
    slow_seen: list[object] = []
    fast_seen: list[object] = []
    for data in stream:
        value = json.dumps(data).encode()  # (orjson refuses integers past 64 bits)
        expected = outcome(tolerant, value, slow_last)
        got = outcome(fast, value, fast_last)
        assert got == expected, data
        if isinstance(expected, Execution) and isinstance(got, Execution):
            # the same context reused (or not) as by the tolerant path
            slow_seen.append(expected.context)
            fast_seen.append(got.context)
            assert [c is expected.context for c in slow_seen] == [
                c is got.context for c in fast_seen
            ], data


def test_values_that_are_not_json_objects_are_read_by_the_tolerant_path() -> None:
    for value in (b"[1]", b"nope", b'"x"', b"{"):
        assert outcome(fast, value, LastContext()) == outcome(tolerant, value, LastContext())
