"""Body limits: content type, size (declared and streamed), gzip, slow clients, JSON depth."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Sequence

import pytest
from starlette.requests import Request
from starlette.types import Message

from services.ingest.errors import (
    MalformedBody,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMedia,
)
from services.receiver.body import BodyLimits, read_body, read_json


def request(
    chunks: Sequence[bytes],
    headers: dict[str, str] | None = None,
    *,
    delay_s: float = 0.0,
) -> Request:
    headers = {"content-type": "application/json", **(headers or {})}
    queue = list(chunks)

    async def receive() -> Message:
        if delay_s:
            await asyncio.sleep(delay_s)
        if not queue:
            return {"type": "http.disconnect"}
        chunk = queue.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


async def test_body_is_read_whole_from_chunks() -> None:
    raw, value = await read_json(request([b'{"a":', b" [1, 2]}"]), BodyLimits())
    assert raw == b'{"a": [1, 2]}'
    assert value == {"a": [1, 2]}


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded"])
async def test_wrong_content_type_is_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMedia):
        await read_body(request([b"{}"], {"content-type": content_type}), BodyLimits())


async def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    req = request([b"x" * 10], {"content-length": "11"})
    with pytest.raises(PayloadTooLarge):
        await read_body(req, BodyLimits(max_bytes=10))


async def test_streamed_body_over_the_cap_is_413_without_content_length() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(request([b"x" * 6, b"x" * 6]), BodyLimits(max_bytes=10))


async def test_body_exactly_at_the_cap_is_accepted() -> None:
    assert await read_body(request([b"x" * 10]), BodyLimits(max_bytes=10)) == b"x" * 10


async def test_bad_content_length_is_400() -> None:
    with pytest.raises(MalformedBody):
        await read_body(request([b"{}"], {"content-length": "abc"}), BodyLimits())


async def test_slow_client_is_cut_off_with_408() -> None:
    req = request([b"{", b"}"], delay_s=0.2)
    with pytest.raises(RequestTimeout):
        await read_body(req, BodyLimits(timeout_s=0.05))


async def test_client_that_disconnects_mid_body_is_400() -> None:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    req = Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [(b"content-type", b"application/json")],
        },
        receive,
    )
    with pytest.raises(MalformedBody):
        await read_body(req, BodyLimits())


async def test_gzip_is_refused_where_not_allowed() -> None:
    req = request([gzip.compress(b"{}")], {"content-encoding": "gzip"})
    with pytest.raises(UnsupportedMedia):
        await read_body(req, BodyLimits())


async def test_other_content_encodings_are_415() -> None:
    req = request([b"data"], {"content-encoding": "br"})
    with pytest.raises(UnsupportedMedia, match="br"):
        await read_body(req, BodyLimits(allow_gzip=True))


async def test_plain_body_over_the_cap_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(request([b"x" * 11]), BodyLimits(max_bytes=10))


async def test_gzip_is_decompressed_where_allowed() -> None:
    req = request([gzip.compress(b'{"a":1}')], {"content-encoding": "gzip"})
    assert await read_body(req, BodyLimits(allow_gzip=True)) == b'{"a":1}'


async def test_gzip_bomb_is_413_on_the_decompressed_size() -> None:
    bomb = gzip.compress(b"0" * 1_000_000)
    req = request([bomb], {"content-encoding": "gzip"})
    with pytest.raises(PayloadTooLarge):
        await read_body(req, BodyLimits(max_bytes=10_000, allow_gzip=True))


@pytest.mark.parametrize(
    "raw", [b"not gzip", gzip.compress(b'{"a":1}', mtime=0)[:-8]], ids=["not-gzip", "truncated"]
)
async def test_broken_gzip_is_400(raw: bytes) -> None:
    req = request([raw], {"content-encoding": "gzip"})
    with pytest.raises(MalformedBody):
        await read_body(req, BodyLimits(allow_gzip=True))
