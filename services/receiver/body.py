"""Reading request bodies within limits: size, content type, encoding, time, JSON depth.

Every ingest endpoint reads its body through :func:`read_body` (raw bytes, for HMAC
checks and non-JSON formats) or :func:`read_json` (raw bytes and the parsed value), so
that the limits are enforced once, the same way, before any parsing:

- ``Content-Type`` must be one of the endpoint's media types (415);
- ``Content-Length`` over the cap is refused before reading (413), and so is a body
  that grows past it while streaming in (chunked uploads);
- the whole body must arrive within ``timeout_s`` (408), so that a slow client cannot
  hold a connection and its buffers open;
- ``Content-Encoding: gzip`` is decompressed only where allowed, with the cap applied
  to the decompressed size (a gzip bomb is a 413, not a memory spike);
- JSON nested deeper than ``max_depth`` is refused (400).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from services.receiver.errors import (
    MalformedBody,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMedia,
)
from services.receiver.settings import ReceiverSettings

__all__ = [
    "GZIP_MAGIC",
    "JSON_TYPES",
    "BodyLimits",
    "check_media_type",
    "depth_exceeds",
    "gunzip",
    "json_limits",
    "media_type",
    "parse_json",
    "read_body",
    "read_json",
]

JSON_TYPES = frozenset({"application/json"})


@dataclass(frozen=True)
class BodyLimits:
    """What one endpoint accepts; see the module docstring for what each limit answers."""

    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 10.0
    max_depth: int = 32
    media_types: frozenset[str] = JSON_TYPES
    allow_gzip: bool = False


def json_limits(settings: ReceiverSettings) -> BodyLimits:
    """The receiver's limits (``max_body_bytes``, ``body_timeout_s``, ``max_json_depth``)
    for a plain JSON body; an endpoint taking more media types ``replace``-s those."""
    return BodyLimits(
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        max_depth=settings.max_json_depth,
    )


GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_INFLATED_BYTES = 64 * 1024 * 1024
_SLICE = 64 * 1024  # inflate in slices: a bomb is caught early, not after


def media_type(content_type: str | None) -> str:
    """``"Application/JSON; charset=utf-8"`` as ``"application/json"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_media_type(content_type: str | None, allowed: Iterable[str]) -> str:
    """The media type when allowed (``+json`` suffixes count as JSON), else 415."""
    kind = media_type(content_type)
    allowed = frozenset(allowed)
    if kind in allowed or ("application/json" in allowed and kind.endswith("+json")):
        return kind
    expected = ", ".join(sorted(allowed))
    raise UnsupportedMedia(f"Content-Type must be {expected}, not {kind or 'missing'}")


async def read_body(request: Request, limits: BodyLimits) -> bytes:
    """The raw (decompressed) body, with every limit of ``limits`` applied."""
    check_media_type(request.headers.get("content-type"), limits.media_types)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in {"identity", ""} and not (limits.allow_gzip and encoding == "gzip"):
        raise UnsupportedMedia(f"Content-Encoding {encoding} is not accepted here")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise MalformedBody("Content-Length is not a number")
        if int(declared) > limits.max_bytes:
            raise PayloadTooLarge(f"the body is over {limits.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.timeout_s):
            more = True
            while more:
                message = await request.receive()
                if message["type"] != "http.request":
                    raise ClientDisconnect
                chunk: bytes = message.get("body", b"")
                more = message.get("more_body", False)
                size += len(chunk)
                if size > limits.max_bytes:
                    raise PayloadTooLarge(f"the body is over {limits.max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {limits.timeout_s:g}s") from None
    except ClientDisconnect:
        raise MalformedBody("the client disconnected before sending the whole body") from None
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return gunzip(raw, limits.max_bytes) if encoding == "gzip" else raw


def gunzip(data: bytes, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> bytes:
    """Inflate gzip ``data`` (several members allowed) to at most ``max_bytes``.

    Raises :class:`MalformedBody` for data that is not gzip or is cut short, and
    :class:`PayloadTooLarge` as soon as the output would pass ``max_bytes``.
    """
    if not data.startswith(GZIP_MAGIC):
        raise MalformedBody("Content-Encoding is gzip but the body is not gzip")
    out = bytearray()
    pending = data
    while pending:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = pending
        try:
            while True:
                piece = inflater.decompress(chunk, _SLICE)
                out += piece
                if len(out) > max_bytes:
                    raise PayloadTooLarge(f"body inflates to more than {max_bytes} bytes")
                chunk = inflater.unconsumed_tail
                if not chunk and len(piece) < _SLICE:
                    break
        except zlib.error as exc:
            raise MalformedBody(f"the gzip body is corrupt: {exc}") from None
        if not inflater.eof:
            raise MalformedBody("the gzip body is truncated")
        pending = inflater.unused_data
        if pending and not pending.startswith(GZIP_MAGIC):
            # Trailing zero padding after the last member is common; anything else is not.
            if pending.strip(b"\x00"):
                raise MalformedBody("garbage after the gzip body")
            break
    return bytes(out)


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests objects/arrays deeper than ``max_depth`` (``{}`` is 1).

    Recursion stops at ``max_depth`` levels, so its depth is bounded by the setting.
    """
    if type(value) is dict:
        children: Iterable[Any] = value.values()
    elif type(value) is list:
        children = value
    else:
        return False
    if max_depth <= 0:
        return True
    for child in children:
        if (type(child) is dict or type(child) is list) and depth_exceeds(child, max_depth - 1):
            return True
    return False


def parse_json(raw: bytes, max_depth: int) -> Any:
    """Parse JSON bytes; malformed, non-UTF-8 or too deeply nested input is a 400."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {_first_line(exc)}") from None
    if depth_exceeds(value, max_depth):
        raise MalformedBody(f"the JSON nests deeper than {max_depth} levels")
    return value


async def read_json(request: Request, limits: BodyLimits) -> tuple[bytes, Any]:
    """The raw body (for signatures) and its parsed JSON value."""
    raw = await read_body(request, limits)
    return raw, parse_json(raw, limits.max_depth)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
