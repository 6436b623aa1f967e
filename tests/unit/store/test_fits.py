from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from services.store.fits import check, int_bounds, without_nul
from services.store.records import Poison, Row

TABLE = sa.Table(
    "t",
    sa.MetaData(),
    sa.Column("small", sa.Integer),
    sa.Column("big", sa.BigInteger),
    sa.Column("text", sa.String),
)
BOUNDS = int_bounds({"rows": TABLE})


def test_integer_columns_take_32_bits_and_big_integer_columns_64() -> None:
    assert BOUNDS == {
        "rows": (("small", -(2**31), 2**31 - 1), ("big", -(2**63), 2**63 - 1)),
    }


@pytest.mark.parametrize(
    "values",
    [{"small": 2**31 - 1, "big": 2**63 - 1}, {"small": -(2**31), "big": None}, {"text": "x"}],
)
def test_numbers_within_range_pass(values: dict[str, object]) -> None:
    check([Row("rows", values)], BOUNDS)


@pytest.mark.parametrize("values", [{"small": 2**31}, {"small": -(2**31) - 1}, {"big": 2**63}])
def test_a_number_past_its_column_is_poison(values: dict[str, object]) -> None:
    with pytest.raises(Poison) as raised:
        check([Row("other", {}), Row("rows", values)], BOUNDS)
    assert raised.value.kind == "schema"
    assert "out of the column's range" in raised.value.detail


def test_values_without_nul_are_handed_back_as_they_are() -> None:
    escaped = b'{"a": "b\\\\u0000"}'  # a backslash, then "u0000": no NUL character
    assert json.loads(without_nul(escaped) or b"") == {"a": "b\\u0000"}
    plain = b'{"a": 1}'
    assert without_nul(plain) is plain
    assert without_nul(None) is None


def test_nul_becomes_the_replacement_character_at_any_depth_keys_too() -> None:
    raw = b'{"k\\u0000": ["a\\u0000b", {"n": 123456789012345678901234567890}], "x": null}'
    got = json.loads(without_nul(raw) or b"")
    assert got == {"k\ufffd": ["a\ufffdb", {"n": 123456789012345678901234567890}], "x": None}


def test_a_value_that_is_not_json_is_left_to_its_decoder() -> None:
    raw = b'{"a": "\\u0000" oops'
    assert without_nul(raw) is raw
