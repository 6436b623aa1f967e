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


def test_a_plain_execution_reads_as_the_model_reads_it() -> None:
    value = raw(result(1, "test_x", "failed", 0, duration_s=2))
    assert fastresult.read(value) == _model(value)


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
    assert fastresult.read(value) == _model(value)


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
        {"failure_expanded": [{"expanded": ["x"]}]},
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


@settings(max_examples=300, deadline=None)
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
    fast = fastresult.read(encoded)
    if fast is not None:
        assert fast == _model(encoded)
