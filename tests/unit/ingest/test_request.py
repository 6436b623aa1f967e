"""Headers, media types, Content-Encoding, gzip and JSON: bounded, and refused cleanly
when wrong."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest import request
from services.ingest.errors import MalformedBody, PayloadTooLarge
from services.ingest.request import (
    bracket_depth_exceeds,
    check_media_type,
    depth_exceeds,
    gunzip,
    header,
    load_json,
    media_type,
)
from tests.thorough import examples
from tests.unit.ingest.payloads import gzipped


def test_headers_are_found_whatever_their_case() -> None:
    headers = {"Content-Type": "application/json", "x-pagerduty-signature": "v1=ab"}
    assert header(headers, "content-type") == "application/json"
    assert header(headers, "X-PagerDuty-Signature") == "v1=ab"
    assert header(headers, "authorization") is None


def test_media_type_splits_parameters_and_lowercases_the_type() -> None:
    kind, params = media_type('Multipart/Form-Data; boundary="abc"; x=1')
    assert kind == "multipart/form-data"
    assert params == {"boundary": "abc", "x": "1"}
    assert media_type(None) == ("", {})


def test_media_type_ignores_parameters_and_case() -> None:
    assert media_type("Application/JSON; charset=utf-8")[0] == "application/json"
    assert check_media_type("application/vnd.api+json", {"application/json"})


def test_gzip_body_is_inflated() -> None:
    body = b'{"format": "json"}' * 100
    assert gunzip(gzipped(body)) == body


def test_concatenated_gzip_members_are_all_inflated() -> None:
    assert gunzip(gzipped(b"abc") + gzipped(b"def")) == b"abcdef"


def test_gzip_header_on_a_plain_body_is_malformed() -> None:
    with pytest.raises(MalformedBody, match="not gzip"):
        gunzip(b'{"format": "json"}')


def test_truncated_gzip_is_malformed() -> None:
    whole = gzipped(b"x" * 10_000 + bytes(range(256)) * 40)
    with pytest.raises(MalformedBody, match="truncated"):
        gunzip(whole[: len(whole) // 2])


def test_corrupt_gzip_is_malformed() -> None:
    whole = bytearray(gzipped(bytes(range(256)) * 40))
    whole[20:40] = b"\xff" * 20
    with pytest.raises(MalformedBody, match="corrupt"):
        gunzip(bytes(whole))


def test_garbage_after_gzip_is_malformed_but_zero_padding_is_not() -> None:
    assert gunzip(gzipped(b"ok") + b"\x00\x00\x00") == b"ok"
    with pytest.raises(MalformedBody, match="garbage"):
        gunzip(gzipped(b"ok") + b"trailing")


def test_gzip_bomb_stops_at_the_cap_with_413() -> None:
    bomb = gzip.compress(b"\x00" * (20 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 30_000
    with pytest.raises(PayloadTooLarge):
        gunzip(bomb, max_bytes=1024 * 1024)


def test_inflating_exactly_to_the_cap_is_allowed() -> None:
    assert len(gunzip(gzipped(b"a" * 65_536 * 3), max_bytes=65_536 * 3)) == 65_536 * 3


def test_raw_deflate_is_not_taken_for_gzip() -> None:
    with pytest.raises(MalformedBody):
        gunzip(zlib.compress(b"data"))


def test_invalid_json_is_malformed_and_says_where() -> None:
    with pytest.raises(MalformedBody, match="not valid JSON"):
        load_json(b'{"format": ')


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"a":}', b"\xff\xfe{}", b'"\\ud800"', b"1e400", b"{} {}", b"NaN"]
)
def test_malformed_json_is_400(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        load_json(raw, max_depth=32)


def test_json_nested_deeper_than_the_cap_is_400() -> None:
    assert load_json(b"[" * 32 + b"]" * 32, max_depth=32) is not None
    with pytest.raises(MalformedBody, match="deeper"):
        load_json(b"[" * 33 + b"]" * 33, max_depth=32)
    with pytest.raises(MalformedBody):
        load_json(b'{"a":' * 5000 + b"1" + b"}" * 5000, max_depth=32)


@pytest.mark.parametrize("walk_compiled", [True, False])
def test_load_json_gives_one_verdict_whichever_depth_check_the_build_picks(
    walk_compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request, "_WALK_COMPILED", walk_compiled)
    assert load_json(b'{"a": [1, {"b": 2}]}', max_depth=3) == {"a": [1, {"b": 2}]}
    assert load_json(b'["[[[[", "]]"]', max_depth=1) == ["[[[[", "]]"]
    for deep in (b'{"a": [1, {"b": 2}]}', b'["[[[[", ["]]"]]'):
        with pytest.raises(MalformedBody, match="deeper"):
            load_json(deep, max_depth=1 if deep.startswith(b"[") else 2)


def test_depth_counts_objects_and_arrays_not_scalars() -> None:
    assert not depth_exceeds(1, 0)
    assert not depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert depth_exceeds({"a": [1, {"b": 2}]}, 2)
    assert depth_exceeds({"a": {}, "b": [[[]]]}, 3)


# Strings full of what could fool a byte-level reading: brackets, quotes, backslashes.
_TRICKY_TEXT = st.text(alphabet='{}[]"\\/ab\n\u00e9\u2603', max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY_TEXT, inner, max_size=4),
    max_leaves=40,
)


def _strings(value: Any) -> list[str]:
    """Every string of ``value``, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _encodings(value: Any) -> list[bytes]:
    """The same value as orjson writes it, and as indented, ASCII-escaped JSON."""
    return [orjson.dumps(value), json.dumps(value, indent=1, ensure_ascii=True).encode()]


@settings(max_examples=examples(400))
@given(_JSON, st.integers(min_value=0, max_value=7))
def test_the_byte_level_depth_check_agrees_with_the_walk(value: Any, max_depth: int) -> None:
    for raw in _encodings(value):
        walked = depth_exceeds(orjson.loads(raw), max_depth)
        read = bracket_depth_exceeds(raw, max_depth)
        assert read is None or read == walked
        if read is None:  # only undecided when a string holds a bracket
            assert any(set(text) & set("[]{}") for text in _strings(value))
        if walked:
            with pytest.raises(MalformedBody, match="deeper"):
                load_json(raw, max_depth=max_depth)
        else:
            assert load_json(raw, max_depth=max_depth) == value


@pytest.mark.parametrize(
    ("raw", "max_depth", "verdict"),
    [
        (b"1", 0, False),
        (b"[]", 0, True),
        (b"[]", 1, False),
        (b'{"a": [1, {"b": 2}]}', 3, False),
        (b'{"a": [1, {"b": 2}]}', 2, True),
        (rb'{"a\\": [["x\\\"y"]]}', 3, False),  # escaped backslash, then quote
        (rb'{"a\\": [["x\\\"y"]]}', 2, True),
        (rb'["\\\\", {"k": "\""}]', 1, True),
        (rb'["\\\\", {"k": "\""}]', 2, False),
        (b"[" * 32 + b"]" * 32, 32, False),
        (b"[" * 33 + b"]" * 33, 32, True),
        (b'["[[[[", "]]"]', 1, None),  # brackets inside a string: the walk decides
    ],
)
def test_the_byte_level_depth_check_reads_escapes_and_strings(
    raw: bytes, max_depth: int, verdict: bool | None
) -> None:
    assert orjson.loads(raw) is not None or raw == b"null"
    assert bracket_depth_exceeds(raw, max_depth) is verdict


def test_the_byte_level_depth_check_decides_the_benchmark_webhook() -> None:
    """The shortcut is taken on a realistic payload (no bracket inside its strings)."""
    from bench.receiver import build_finished

    raw = orjson.dumps(build_finished(7))
    assert bracket_depth_exceeds(raw, 32) is False
    assert bracket_depth_exceeds(raw, 3) is True
    assert depth_exceeds(orjson.loads(raw), 3) is True
