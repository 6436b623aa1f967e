from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.tests import TestResult
from services.store import fastresult
from tests.store_stream import raw, result

GOOD = orjson.loads(raw(result(1, "test_x", "failed", 0)))


def _model(value: bytes) -> dict[str, object] | None:
    try:
        return TestResult.model_validate_json(value).model_dump()
    except ValidationError:
        return None


def _fast(value: bytes) -> dict[str, object] | None:
    read = fastresult.read(value)
    return None if read is None else fastresult.as_dump(read)


def test_a_plain_execution_reads_as_the_model_reads_it() -> None:
    value = raw(result(1, "test_x", "failed", 0, duration_s=2))
    assert _fast(value) == _model(value)
    assert _fast(value) is not None


def test_the_models_record_is_the_readers_record() -> None:
    value = raw(result(1, "test_x", "failed", 0, duration_s=2))
    read = fastresult.read(value)
    assert read is not None
    model = fastresult.from_model(TestResult.model_validate_json(value))
    assert fastresult.as_dump(model) == fastresult.as_dump(read)


def test_failure_details_read_as_the_model_reads_them() -> None:
    details = [{"expanded": ["line 1", "line 2"]}, {"backtrace": ["a.py:1"]}, {}]
    value = orjson.dumps({**GOOD, "failure_expanded": details})
    assert _fast(value) == _model(value)
    assert _fast(value) is not None


def test_a_repeated_field_reads_as_the_model_reads_it() -> None:
    value = raw(result(1, "test_x", "failed", 0))
    repeated = value[:-1] + b',"suite":"other"}'
    assert _fast(repeated) == _model(repeated)
    assert _model(repeated) is not None


def test_the_fewest_fields_read_with_the_model_defaults() -> None:
    minimal = {
        "event_id": "e",
        "suite": "s",
        "upload_id": "u",
        "received_at": "2026-08-01T10:00:05.000Z",
        "test": {"name": "t"},
        "result": "passed",
    }
    value = orjson.dumps(minimal)
    assert _fast(value) == _model(value)
    assert _fast(value) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"result": "flaky"},
        {"attempt": "2"},
        {"attempt": True},
        {"duration_s": "1.5"},
        {"received_at": "2026-08-01 10:00:05 UTC"},
        {"received_at": "yesterday"},
        {"received_at": "2026-W31-1T10:00:00"},
        {"test": {"name": "t", "colour": "red"}},
        {"test": {"scope": "s"}},
        {"run_env": {"key": 1}},
        {"failure_expanded": [{"expanded": ["x"], "colour": "red"}]},
        {"failure_expanded": [{"expanded": [1]}]},
        {"received_at": "2026-08-01T10:00:00.1234567Z"},  # msgspec would round it
        {"received_at": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"received_at": 1785578400},
        {"duration_s": True},
        {"run_env": None},
    ],
)
def test_anything_unusual_is_left_to_the_model(change: dict[str, object]) -> None:
    assert fastresult.read(orjson.dumps({**GOOD, **change})) is None


def test_values_that_are_not_objects_are_left_to_the_model() -> None:
    assert fastresult.read(b"[1]") is None
    assert fastresult.read(b"{nope") is None


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300)
@given(
    field=st.sampled_from([*sorted(GOOD), "test.name", "test.file_name", "run_env.key"]),
    value=_json,
)
def test_what_the_reader_accepts_the_model_accepts_the_same(field: str, value: object) -> None:
    data = orjson.loads(orjson.dumps(GOOD))
    if "." in field:
        outer, inner = field.split(".")
        data[outer][inner] = value
    else:
        data[field] = value
    encoded = orjson.dumps(data)
    fast = _fast(encoded)
    if fast is not None:
        assert fast == _model(encoded)


_times = st.builds(
    "{}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
    st.sampled_from(["0001", "1999", "2026", "9999"]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(["T", " ", "t"]),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", ".", ".5", ".123456", ".1234567", ",5"]),
    st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+05:30", "-23:59", "+24:00", "+0100"]),
)


@settings(max_examples=300)
@given(received_at=_times)
def test_a_time_the_reader_accepts_is_the_time_the_model_reads(received_at: str) -> None:
    encoded = orjson.dumps({**GOOD, "received_at": received_at})
    fast = _fast(encoded)
    if fast is not None:
        assert fast == _model(encoded)
        assert fast["received_at"] == _model_time(encoded)


def _model_time(value: bytes) -> object:
    model = _model(value)
    return None if model is None else model["received_at"]
