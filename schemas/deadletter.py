"""Poison messages on ``kitestream.dlq`` (key = the original key)."""

from __future__ import annotations

from schemas.base import Message, UtcDateTime

__all__ = ["DeadLetter"]


class DeadLetter(Message):
    """A message a service could not handle, with where it came from and why."""

    service: str
    error: str
    origin_topic: str
    origin_partition: int | None = None
    origin_offset: int | None = None
    key: str | None = None
    value: str | None = None
    at: UtcDateTime
