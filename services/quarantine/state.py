"""A test's quarantine state over time, and what a request to change it does. Pure.

The latest :class:`~schemas.quarantine.QuarantineChange` of a test is its state until
its ``until`` passes; then the test is ``active`` again without a new message::

    10:00  mute, until 12:00      effective(change, 11:59) -> muted
                                  effective(change, 12:00) -> active  (lapsed)
    no change at all              effective(None, any)     -> active

A request (:class:`ChangeRequest`) is turned into the next change by :func:`transition`,
which refuses what makes no sense (a reason missing for a mute or a skip, an expiry in
the past, an expiry on an unmute) and returns ``None`` when the request changes
nothing (unmuting a test that is active), so no message is written for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.base import stable_id
from schemas.quarantine import QuarantineChange, QuarantineSource, QuarantineState

__all__ = [
    "ChangeRequest",
    "QuarantineError",
    "TestIdentity",
    "change_from_row",
    "effective",
    "is_quarantined",
    "test_key",
    "transition",
]

MAX_REASON = 500


class QuarantineError(ValueError):
    """A change that cannot be made; the message says why, for the person who asked."""


def test_key(suite: str, scope: str, name: str, file: str | None) -> str:
    """``suite/scope/name[/file]``, the key flakiness and the store use."""
    base = f"{suite}/{scope}/{name}"
    return base if not file else f"{base}/{file}"


test_key.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@dataclass(frozen=True)
class TestIdentity:
    """A test as runners name it: suite, scope and name (and the file, when known)."""

    __test__ = False

    suite: str
    scope: str
    name: str
    file: str | None = None

    @property
    def key(self) -> str:
        return test_key(self.suite, self.scope, self.name, self.file)


@dataclass(frozen=True)
class ChangeRequest:
    """What someone (or the policy) asks for: a state, why, by whom, until when."""

    state: QuarantineState
    set_by: str
    reason: str = ""
    until: datetime | None = None
    source: QuarantineSource = "manual"


def effective(change: QuarantineChange | None, now: datetime) -> QuarantineState:
    """The state ``change`` gives its test at ``now`` (``active`` once ``until`` passed)."""
    if change is None:
        return "active"
    if change.until is not None and now >= change.until:
        return "active"
    return change.state


def is_quarantined(change: QuarantineChange | None, now: datetime) -> bool:
    return effective(change, now) != "active"


def _check(request: ChangeRequest, now: datetime) -> None:
    if not request.set_by.strip():
        raise QuarantineError("say who sets it (`by`)")
    if len(request.reason) > MAX_REASON:
        raise QuarantineError(f"the reason is longer than {MAX_REASON} characters")
    if request.state == "active":
        if request.until is not None:
            raise QuarantineError("an unmute takes no expiry (`until`)")
        return
    if not request.reason.strip():
        raise QuarantineError(f"say why the test is {request.state} (`reason`)")
    if request.until is not None:
        if request.until.tzinfo is None:
            raise QuarantineError("the expiry (`until`) needs a time zone, e.g. Z")
        if request.until <= now:
            raise QuarantineError("the expiry (`until`) is not in the future")


def transition(
    test: TestIdentity,
    current: QuarantineChange | None,
    request: ChangeRequest,
    now: datetime,
) -> QuarantineChange | None:
    """The change ``request`` makes to ``test`` (whose latest change is ``current``) at
    ``now``; ``None`` when it changes nothing; :class:`QuarantineError` when refused.

    Muting a muted test again replaces its reason, author and expiry (a new message);
    unmuting a test that is active already (never quarantined, unmuted, or lapsed) is
    nothing to do.
    """
    _check(request, now)
    if request.state == "active" and effective(current, now) == "active":
        return None
    reason = request.reason.strip()
    return QuarantineChange(
        change_id=stable_id(test.key, request.state, request.set_by, reason, now, request.until),
        key=test.key,
        suite=test.suite,
        scope=test.scope,
        name=test.name,
        file_name=test.file,
        state=request.state,
        reason=reason,
        set_by=request.set_by.strip(),
        source=request.source,
        at=now,
        until=request.until,
    )


def change_from_row(row: Mapping[Any, Any]) -> QuarantineChange:
    """A row of the store's ``quarantine`` table as the change it was written from."""
    return QuarantineChange(
        change_id=row["change_id"],
        key=row["test_key"],
        suite=row["suite"],
        scope=row["scope"],
        name=row["name"],
        file_name=row["file"],
        state=row["state"],
        reason=row["reason"],
        set_by=row["set_by"],
        source=row["source"],
        at=row["at"],
        until=row["until"],
    )
