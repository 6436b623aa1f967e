"""Messages to produce, and the spool's on-disk frame for one of them.

A record is framed as ``b"KS" | u32 length | u32 crc32 | body`` with body
``u64 spooled_at_ms | u16 topic length | topic | i32 key length (-1: no key) | key |
value``. :func:`decode` returns ``None`` for anything short or corrupt, which is how the
spool finds a torn tail after a crash.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["MAX_RECORD", "Outgoing", "Position", "SpooledRecord", "decode", "encode"]

_MAGIC = b"KS"
_HEAD = struct.Struct(">2sII")  # magic, body length, crc32(body)
_BODY = struct.Struct(">QH")  # spooled_at_ms, topic length
_KEY = struct.Struct(">i")
MAX_RECORD = 64 * 1024 * 1024


class Outgoing(NamedTuple):
    """One message to produce: full topic name, key, value bytes."""

    topic: str
    key: bytes | None
    value: bytes


class Position(NamedTuple):
    segment: int
    offset: int


@dataclass(frozen=True)
class SpooledRecord:
    message: Outgoing
    spooled_at_ms: int
    size: int  # framed bytes on disk
    end: Position  # where the next record starts


def encode(message: Outgoing, spooled_at_ms: int) -> bytes:
    topic = message.topic.encode()
    key = message.key
    body = b"".join(
        (
            _BODY.pack(spooled_at_ms, len(topic)),
            topic,
            _KEY.pack(-1 if key is None else len(key)),
            key or b"",
            message.value,
        )
    )
    return _HEAD.pack(_MAGIC, len(body), zlib.crc32(body)) + body


def decode(buf: bytes, pos: int = 0) -> tuple[Outgoing, int, int] | None:
    """``(message, spooled_at_ms, end)`` of the record framed at ``buf[pos:]``, or ``None``
    when no complete, intact record starts there."""
    if len(buf) - pos < _HEAD.size:
        return None
    magic, length, crc = _HEAD.unpack_from(buf, pos)
    start = pos + _HEAD.size
    end = start + length
    if magic != _MAGIC or length > MAX_RECORD or len(buf) < end:
        return None
    body = memoryview(buf)[start:end]
    if length < _BODY.size + _KEY.size or zlib.crc32(body) != crc:
        return None
    at_ms, topic_len = _BODY.unpack_from(body)
    cut = _BODY.size + topic_len
    (key_len,) = _KEY.unpack_from(body, cut)
    key_start = cut + _KEY.size
    value_start = key_start + max(key_len, 0)
    if value_start > length:
        return None
    topic = bytes(body[_BODY.size : cut]).decode(errors="replace")
    key = None if key_len < 0 else bytes(body[key_start:value_start])
    return Outgoing(topic, key, bytes(body[value_start:])), at_ms, end
