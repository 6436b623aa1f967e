"""The raw pieces of a request, read safely: headers, media type, gzip, JSON.

The receiver's routes read bodies with :mod:`services.receiver.body` (size, time,
``Content-Encoding``); this module covers the rest: gzipped files inside a multipart
upload, header lookups on plain dicts, and bodies as received for the one-call
``handle_*`` functions. Everything is pure and bounded: gzip is inflated in slices
against a cap, so a small bomb becomes a 413 instead of filling memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.receiver.body import DEFAULT_MAX_INFLATED_BYTES, GZIP_MAGIC, depth_exceeds, gunzip
from services.receiver.errors import MalformedBody, PayloadTooLarge, UnsupportedMedia

__all__ = [
    "DEFAULT_MAX_INFLATED_BYTES",
    "DEFAULT_MAX_JSON_DEPTH",
    "Headers",
    "decode_body",
    "gunzip",
    "header",
    "load_json",
    "maybe_gunzip",
    "media_type",
]

# Headers as Starlette's ``request.headers`` or a plain dict (any case) give them.
Headers = Mapping[str, str]


DEFAULT_MAX_JSON_DEPTH = 32


def header(headers: Headers, name: str) -> str | None:
    """The value of header ``name`` whatever its case in ``headers``."""
    value = headers.get(name) or headers.get(name.lower())
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def media_type(headers: Headers) -> tuple[str, dict[str, str]]:
    """``("multipart/form-data", {"boundary": "x"})`` from the Content-Type ('' if none)."""
    raw = header(headers, "content-type") or ""
    kind, _, rest = raw.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def decode_body(
    headers: Headers, body: bytes, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES
) -> bytes:
    """The body with its Content-Encoding (``identity`` or ``gzip``) undone."""
    encoding = (header(headers, "content-encoding") or "identity").strip().lower()
    if encoding in {"", "identity"}:
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"body is larger than {max_bytes} bytes")
        return body
    if encoding in {"gzip", "x-gzip"}:
        return gunzip(body, max_bytes)
    raise UnsupportedMedia(f"Content-Encoding {encoding!r} is not supported (use gzip)")


def maybe_gunzip(data: bytes, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> bytes:
    """``data`` inflated when it starts with the gzip magic, else as is (uploaded files)."""
    return gunzip(data, max_bytes) if data.startswith(GZIP_MAGIC) else data


def load_json(data: bytes, what: str = "body", max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """Parsed JSON, or :class:`MalformedBody` saying where it broke or that it nests
    deeper than ``max_depth`` (the receiver's check, :func:`depth_exceeds`)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the {what} is not valid JSON: {exc}") from None
    if depth_exceeds(value, max_depth):
        raise MalformedBody(f"the {what} nests deeper than {max_depth} levels")
    return value
