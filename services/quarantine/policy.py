"""Auto-quarantine (``KITESTREAM_AUTO_QUARANTINE=N``, hours): mute the tests flagged flaky
for longer than N hours, unmute them when they recover. Pure.

A timeline, with N = 24::

    Mon 10:00  flagged flaky (flakiness.state: status flaky, since Mon 10:00)
    Tue 10:00  flaky for 24 h -> muted by auto-quarantine, at Tue 10:00
    Thu 08:00  flag cleared (status stable, updated Thu 08:00)
               -> active again, by auto-quarantine, at Thu 08:00

People have the last word: the policy never unmutes (or re-mutes) what a person muted,
skipped or unmuted, and it leaves a test alone when a person changed its quarantine
since the current flag started (someone unmuted it on purpose). Each decision is dated
by the moment it was due (the flag's start + N, the recovery), not by when it was
noticed, so two store instances noticing it both make the same change (same
``change_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.quarantine import QuarantineChange
from services.quarantine.state import ChangeRequest, TestIdentity, effective, transition

__all__ = ["AUTO", "AutoQuarantine", "Flag", "decide"]

AUTO = "auto-quarantine"


@dataclass(frozen=True)
class AutoQuarantine:
    """The policy: mute after ``after`` of being flagged flaky."""

    after: timedelta


@dataclass(frozen=True)
class Flag:
    """A test's flaky status as the store holds it (from ``flakiness.state``)."""

    test: TestIdentity
    status: str  # flaky | stable
    since: datetime | None  # when the current (or last) flag started
    updated_at: datetime | None  # the state's time (a recovery's time)


def decide(
    flag: Flag, current: QuarantineChange | None, policy: AutoQuarantine, now: datetime
) -> QuarantineChange | None:
    """The change the policy makes to ``flag.test`` at ``now``, or ``None``."""
    if flag.status == "flaky":
        return _mute(flag, current, policy, now)
    return _unmute(flag, current, now)


def _mute(
    flag: Flag, current: QuarantineChange | None, policy: AutoQuarantine, now: datetime
) -> QuarantineChange | None:
    if flag.since is None:
        return None
    due = flag.since + policy.after
    if now < due or effective(current, now) != "active":
        return None
    if current is not None and current.source == "manual" and current.at >= flag.since:
        return None  # a person decided during this flag: theirs stands
    if current is not None and due <= current.at:
        due = current.at + timedelta(microseconds=1)  # after the change it follows
    hours = policy.after.total_seconds() / 3600
    reason = f"flaky since {flag.since:%Y-%m-%d %H:%M}Z, for more than {hours:g} h"
    return transition(flag.test, current, ChangeRequest("muted", AUTO, reason, None, "policy"), due)


def _unmute(flag: Flag, current: QuarantineChange | None, now: datetime) -> QuarantineChange | None:
    if current is None or current.source != "policy" or effective(current, now) != "muted":
        return None
    at = flag.updated_at if flag.updated_at is not None and flag.updated_at > current.at else now
    return transition(
        flag.test, current, ChangeRequest("active", AUTO, "recovered", None, "policy"), at
    )
