"""When to try a failed delivery again, and when to give up. Pure: time comes in.

Attempt ``n`` failed; the wait before attempt ``n + 1`` grows exponentially with *equal
jitter*: half of the step is fixed, half random, so retries of many alerts spread out
but never come back immediately::

    step(n) = min(cap, base * 2 ** (n - 1))
    wait(n) = step(n) / 2 + uniform(0, step(n) / 2)

With base 1 s and cap 120 s the steps are 1, 2, 4, 8, 16, 32, 64, 120, 120 … seconds.
A sink's ``Retry-After`` is a floor on the wait. A delivery gives up after
``max_attempts`` attempts, or when the next attempt would start later than
``give_up_after_s`` after the alert was read (its retry budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = ["GiveUp", "Retry", "RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class Retry:
    """Try again after ``wait_s`` seconds."""

    wait_s: float


@dataclass(frozen=True)
class GiveUp:
    """Stop trying; ``why`` says which limit was reached."""

    why: str


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 1.0
    cap_s: float = 120.0
    give_up_after_s: float = 900.0

    def step(self, attempt: int) -> float:
        """The un-jittered wait after failed attempt ``attempt`` (1-based)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 62))

    def wait(self, attempt: int, rand: float) -> float:
        """The jittered wait after failed attempt ``attempt``; ``rand`` is in [0, 1)."""
        step = self.step(attempt)
        return step / 2 + step / 2 * rand

    def after_failure(
        self,
        *,
        attempt: int,
        elapsed_s: float,
        rand: float,
        retry_after_s: float | None = None,
    ) -> Retry | GiveUp:
        """What to do after attempt ``attempt`` failed, ``elapsed_s`` into the budget."""
        if attempt >= self.max_attempts:
            return GiveUp(f"gave up after {attempt} attempts")
        wait = self.wait(attempt, rand)
        if retry_after_s is not None and retry_after_s > wait:
            wait = retry_after_s
        if elapsed_s + wait > self.give_up_after_s:
            return GiveUp(
                f"gave up after {attempt} attempts: the next one ({wait:.0f}s away) would "
                f"exceed the {self.give_up_after_s:.0f}s retry budget"
            )
        return Retry(wait)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    ``None`` when absent or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
