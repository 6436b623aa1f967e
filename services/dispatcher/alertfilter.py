"""Which alerts ``kitestream alerts tail`` shows, and which are the last N. Pure.

An alert is shown when it passes every filter given: its kind is one of ``--kind``, its
service one of ``--service``, and it was created at or after ``--since``. The last N are
counted among those, across partitions, ordered by ``created_at`` (then by the Kafka
timestamp, partition and offset, so the order is total and the same on every run)::

    partition 0:  a(10:00)  c(10:05)          e(10:20)
    partition 1:       b(10:02)     d(10:10)
    -n 3  ->  c, d, e
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.alerts import Alert

__all__ = ["AlertFilter", "Seen", "last", "parse_duration", "parse_since"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(\d+)([smhdw])")


@dataclass(frozen=True)
class AlertFilter:
    kinds: frozenset[str] = frozenset()  # empty: every kind
    services: frozenset[str] = frozenset()  # empty: every service (and none)
    since: datetime | None = None

    def matches(self, alert: Alert) -> bool:
        if self.kinds and alert.kind not in self.kinds:
            return False
        if self.services and alert.service not in self.services:
            return False
        return self.since is None or alert.created_at >= self.since


@dataclass(frozen=True)
class Seen:
    """An alert as read from one partition, with what orders it among the others."""

    alert: Alert
    timestamp_ms: int  # the Kafka record's
    partition: int
    offset: int

    def order(self) -> tuple[datetime, int, int, int]:
        return (self.alert.created_at, self.timestamp_ms, self.partition, self.offset)


def last(seen: Iterable[Seen], n: int | None) -> list[Seen]:
    """The newest ``n`` (``None``: all), oldest first, as a log reads."""
    if n is None:
        return sorted(seen, key=Seen.order)
    return sorted(heapq.nlargest(n, seen, key=Seen.order), key=Seen.order)


def parse_duration(text: str) -> timedelta | None:
    """Number-unit pairs (``90s``, ``15m``, ``2h``, ``1d``, ``1w``, ``1h30m``) as a
    duration; ``None`` when ``text`` is anything else."""
    text = text.strip()
    if not text or _DURATION.sub("", text):
        return None
    ago = timedelta()
    for amount, unit in _DURATION.findall(text):
        ago += timedelta(**{_UNITS[unit]: int(amount)})
    return ago


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: an RFC 3339 time or date (UTC when it has no offset), or how long ago
    as a number and a unit (``90s``, ``15m``, ``2h``, ``1d``, ``1w``; ``1h30m`` too).

    >>> parse_since("2h", datetime(2026, 8, 1, 12, 0, tzinfo=UTC)).isoformat()
    '2026-08-01T10:00:00+00:00'
    """
    text = text.strip()
    ago = parse_duration(text)
    if ago is not None:
        return now - ago
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected a time like 2026-08-01T10:00:00Z or 2026-08-01, "
            "or how long ago like 15m, 2h, 1d"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
