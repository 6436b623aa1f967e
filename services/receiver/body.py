"""Reading request bodies within limits: size, content type, encoding, time, JSON depth.

Every ingest endpoint reads its body through :func:`read_body` (raw bytes, for HMAC
checks and non-JSON formats) or :func:`read_json` (raw bytes and the parsed value), so
that the limits are enforced once, the same way, before any parsing:

- ``Content-Type`` must be one of the endpoint's media types (415);
- ``Content-Length`` over the cap is refused before reading (413), and so is a body
  that grows past it while streaming in (chunked uploads);
- the whole body must arrive within ``timeout_s`` (408; a coarse
  :func:`~services.receiver.deadlines.deadline`, up to 50 ms late), so that a slow client cannot
  hold a connection and its buffers open;
- ``Content-Encoding: gzip`` is decompressed only where allowed, with the cap applied
  to the decompressed size (a gzip bomb is a 413, not a memory spike);
- JSON nested deeper than ``max_depth`` is refused (400).

The pure parts (media types, gzip within a cap, JSON within a depth) are
:mod:`services.ingest.request`; this module adds what needs the request stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect

from services.ingest.errors import (
    MalformedBody,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMedia,
)
from services.ingest.request import JSON_TYPES, check_media_type, gunzip, load_json
from services.receiver.deadlines import deadline
from services.receiver.endpoints import Incoming
from services.receiver.settings import ReceiverSettings

__all__ = ["BodyLimits", "json_limits", "read_body", "read_json"]


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


async def read_body(request: Incoming, limits: BodyLimits) -> bytes:
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
        with deadline(limits.timeout_s):
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


async def read_json(request: Incoming, limits: BodyLimits) -> tuple[bytes, Any]:
    """The raw body (for signatures) and its parsed JSON value."""
    raw = await read_body(request, limits)
    return raw, load_json(raw, "body", limits.max_depth)
