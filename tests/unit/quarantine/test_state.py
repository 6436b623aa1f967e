"""A test's quarantine state over time and the changes requests make, with explicit clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.quarantine import QuarantineChange
from services.quarantine.state import (
    ChangeRequest,
    QuarantineError,
    TestIdentity,
    effective,
    is_quarantined,
    transition,
)

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
TEST = TestIdentity("payments-pytest", "tests/test_pay.py", "test_refund", "tests/test_pay.py")


def _mute(at: datetime = T0, until: datetime | None = None) -> QuarantineChange:
    change = transition(TEST, None, ChangeRequest("muted", "alice", "flaky", until), at)
    assert change is not None
    return change


def test_a_test_never_quarantined_is_active() -> None:
    assert effective(None, T0) == "active"
    assert not is_quarantined(None, T0)


def test_a_mute_holds_until_its_expiry_and_lapses_at_it() -> None:
    change = _mute(until=T0 + timedelta(hours=2))
    assert effective(change, T0 + timedelta(hours=1, minutes=59)) == "muted"
    assert effective(change, T0 + timedelta(hours=2)) == "active"
    assert not is_quarantined(change, T0 + timedelta(days=1))


def test_a_mute_without_expiry_holds_for_ever() -> None:
    assert effective(_mute(), T0 + timedelta(days=3650)) == "muted"


def test_a_mute_carries_who_why_when_and_the_test_identity() -> None:
    change = _mute(until=T0 + timedelta(days=1))
    assert change.key == "payments-pytest/tests/test_pay.py/test_refund/tests/test_pay.py"
    assert (change.suite, change.scope, change.name, change.file_name) == (
        "payments-pytest",
        "tests/test_pay.py",
        "test_refund",
        "tests/test_pay.py",
    )
    assert (change.state, change.set_by, change.reason, change.source) == (
        "muted",
        "alice",
        "flaky",
        "manual",
    )
    assert change.at == T0
    assert change.until == T0 + timedelta(days=1)


def test_unmuting_a_muted_test_makes_an_active_change() -> None:
    change = transition(TEST, _mute(), ChangeRequest("active", "bob", "fixed"), T0 + timedelta(1))
    assert change is not None
    assert change.state == "active"
    assert change.set_by == "bob"


@pytest.mark.parametrize(
    "current",
    [None, "lapsed", "unmuted"],
)
def test_unmuting_an_active_test_changes_nothing(current: str | None) -> None:
    later = T0 + timedelta(hours=3)
    latest: QuarantineChange | None = None
    if current == "lapsed":
        latest = _mute(until=T0 + timedelta(hours=1))
    elif current == "unmuted":
        latest = transition(TEST, _mute(), ChangeRequest("active", "bob"), T0 + timedelta(hours=1))
    assert transition(TEST, latest, ChangeRequest("active", "bob"), later) is None


def test_muting_a_muted_test_again_replaces_its_reason_and_expiry() -> None:
    again = transition(
        TEST,
        _mute(),
        ChangeRequest("muted", "carol", "still flaky", T0 + timedelta(days=2)),
        T0 + timedelta(hours=1),
    )
    assert again is not None
    assert (again.reason, again.set_by, again.until) == (
        "still flaky",
        "carol",
        T0 + timedelta(days=2),
    )
    assert again.change_id != _mute().change_id


def test_skipping_then_muting_moves_between_the_two_states() -> None:
    skip = transition(TEST, None, ChangeRequest("skipped", "alice", "hangs"), T0)
    assert skip is not None
    assert effective(skip, T0) == "skipped"
    mute = transition(TEST, skip, ChangeRequest("muted", "alice", "runs now"), T0)
    assert mute is not None
    assert effective(mute, T0) == "muted"


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (ChangeRequest("muted", "alice", ""), "say why"),
        (ChangeRequest("skipped", "alice", "   "), "say why"),
        (ChangeRequest("muted", " ", "flaky"), "say who"),
        (ChangeRequest("muted", "alice", "flaky", T0), "not in the future"),
        (ChangeRequest("muted", "alice", "flaky", T0 - timedelta(1)), "not in the future"),
        (ChangeRequest("muted", "alice", "x", datetime(2027, 1, 1)), "time zone"),
        (ChangeRequest("active", "alice", "", T0 + timedelta(1)), "no expiry"),
        (ChangeRequest("muted", "alice", "x" * 501), "longer than"),
    ],
)
def test_a_request_that_makes_no_sense_is_refused_saying_why(
    request_: ChangeRequest, why: str
) -> None:
    with pytest.raises(QuarantineError, match=why):
        transition(TEST, None, request_, T0)


def test_the_same_request_at_the_same_time_has_the_same_change_id() -> None:
    assert _mute().change_id == _mute().change_id
    assert _mute().change_id != _mute(at=T0 + timedelta(seconds=1)).change_id
