"""A circuit breaker per sink, so that a dead sink is probed, not hammered. Pure.

::

    closed ──(threshold failures in a row)──▶ open ──(cooldown passes)──▶ half-open
      ▲                                        ▲                              │
      └───────────(probe succeeds)─────────────┼──────────────────────────────┤
                                               └──────(probe fails: cooldown doubles,
                                                        up to max_cooldown)

Only failures that say the sink is unwell count (connection errors, timeouts, 5xx); an
answer such as 429 or 400 shows the sink is up and counts as a success here. A sink's
worker has several deliveries in flight: in the half-open state it lets exactly one of
them probe while the others wait for the probe's answer, and a failure of a request sent
before the circuit opened does not count as a failed probe (``sent_at``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self, threshold: int = 5, cooldown_s: float = 30.0, max_cooldown_s: float = 300.0
    ) -> None:
        self.threshold = threshold
        self.base_cooldown_s = cooldown_s
        self.max_cooldown_s = max(max_cooldown_s, cooldown_s)
        self._failures = 0
        self._opened_at: float | None = None
        self._cooldown_s = cooldown_s

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now - self._opened_at >= self._cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def wait_s(self, now: float) -> float:
        """Seconds until a call may go through (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._cooldown_s - now)

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._cooldown_s = self.base_cooldown_s

    def record_failure(self, now: float, sent_at: float | None = None) -> None:
        """A request failed at ``now``; ``sent_at`` is when it was sent (default: now)."""
        if self._opened_at is not None:
            if sent_at is not None and sent_at < self._opened_at:
                return  # sent while closed, before it opened: no probe, nothing to learn
            # A failed probe (half-open): stay open, for longer.
            self._cooldown_s = min(self.max_cooldown_s, self._cooldown_s * 2)
            self._opened_at = now
            return
        self._failures += 1
        if self._failures >= self.threshold:
            self._opened_at = now
