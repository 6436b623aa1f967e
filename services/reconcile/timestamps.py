"""Times as Buildkite's REST API takes them, and ``--since`` durations.

The API refuses Python's ``isoformat()`` (an offset, microseconds): it takes
``YYYY-MM-DDTHH:MM:SSZ`` only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["api_time", "parse_duration"]

_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def api_time(at: datetime) -> str:
    """``at`` as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (naive means UTC), seconds truncated."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> timedelta:
    """``"14d"``, ``"36h"``, ``"90m"``, ``"2w"``, ``"30s"`` as a positive timedelta."""
    match = _DURATION.match(text)
    if not match or float(match["n"]) <= 0:
        raise ValueError(f"not a duration like 14d, 36h or 90m: {text!r}")
    return timedelta(seconds=float(match["n"]) * _UNITS[match["unit"]])
