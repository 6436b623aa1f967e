"""How long to wait before the next API request, from the rate-limit headers (pure).

Buildkite answers every request with two budgets, each a window that resets::

    RateLimit-Limit / -Remaining / -Reset            the organization's (200 a minute),
                                                     shared with every other integration
    RateLimit-User-Limit / -Remaining / -Reset       the token's user (50 a minute)

kitestream uses at most ``share`` of each: it keeps ``reserve = limit × (1 − share)``
requests of every window for the others, and spreads what is left evenly until the
reset, so that it slows down well before the limit instead of bursting into a 429::

    window:  |--- 60 s -------------------------------------------|
    share ½: |r  r  r  r  r … (≤ 100 requests, evenly spaced)      | reset
             remaining ≤ reserve (others used it): wait for reset ─┘

Before the first answer the documented defaults apply. After a 429, nothing is sent
until the reset the answer gives (``RateLimit-*-Reset``, else ``Retry-After``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Budget", "Window"]

ORGANIZATION_LIMIT = 200
USER_LIMIT = 50
WINDOW_S = 60.0
# Resets come in whole seconds, rounded either way: a window is taken to end a second
# later than said, so that a request is never counted in a window thought to be over.
RESET_MARGIN_S = 1.0
_SCOPES = {"organization": "RateLimit-", "user": "RateLimit-User-"}


@dataclass
class Window:
    """One budget as last reported: ``remaining`` requests until ``reset_at``."""

    limit: int
    remaining: int
    reset_at: float


class Budget:
    """Pacing for one token: call :meth:`delay` before a request and :meth:`observe`
    with every answer's headers. ``now`` is a monotonic clock in seconds."""

    def __init__(self, share: float = 0.5) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self.windows: dict[str, Window] = {}
        self.blocked_until = 0.0

    def reserve(self, limit: int) -> int:
        """Requests of each window left to everybody else."""
        return math.ceil(limit * (1 - self.share) - 1e-9)

    def observe(self, headers: Mapping[str, str], now: float, *, refused: bool = False) -> None:
        """Take an answer's rate-limit headers in (``refused``: it was a 429)."""
        given: list[Window] = []
        for scope, prefix in _SCOPES.items():
            limit = _int(headers.get(f"{prefix}Limit"))
            remaining = _int(headers.get(f"{prefix}Remaining"))
            reset = _int(headers.get(f"{prefix}Reset"))
            if remaining is None or reset is None:
                continue
            known = self.windows.get(scope)
            if limit is None:
                limit = known.limit if known else _default(scope)
            self.windows[scope] = Window(limit, remaining, now + max(0, reset) + RESET_MARGIN_S)
            given.append(self.windows[scope])
        if refused:
            spent = [w for w in given if w.remaining <= 0] or given
            resets = [w.reset_at for w in spent]
            after = _int(headers.get("Retry-After"))
            if after is not None:
                resets.append(now + after)
            self.blocked_until = max(resets or [now + WINDOW_S])

    def delay(self, now: float) -> float:
        """Seconds to wait before the next request (0: go now). Counts that request."""
        wait = max(0.0, self.blocked_until - now)
        for scope in _SCOPES:
            window = self.windows.get(scope)
            if window is None:
                continue
            if now >= window.reset_at:  # a new window: the documented full budget
                window.remaining = window.limit
                window.reset_at = now + WINDOW_S
            available = window.remaining - self.reserve(window.limit)
            if available <= 0:
                wait = max(wait, window.reset_at - now)
                continue
            wait = max(wait, (window.reset_at - now) / (available + 1))
        for window in self.windows.values():  # this request, as the server will count it
            window.remaining -= 1
        return wait


def _default(scope: str) -> int:
    return ORGANIZATION_LIMIT if scope == "organization" else USER_LIMIT


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None
