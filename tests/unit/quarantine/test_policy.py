"""Auto-quarantine with explicit clocks: mute after N hours flagged, unmute on recovery,
people's decisions stand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.quarantine import QuarantineChange
from services.quarantine.policy import AUTO, AutoQuarantine, Flag, decide
from services.quarantine.state import ChangeRequest, TestIdentity, transition

MON = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TEST = TestIdentity("payments-pytest", "tests/test_pay.py", "test_refund")
DAY = AutoQuarantine(after=timedelta(hours=24))


def _flaky(since: datetime = MON) -> Flag:
    return Flag(TEST, "flaky", since, since)


def _manual(state: str, at: datetime, current: QuarantineChange | None = None) -> QuarantineChange:
    change = transition(TEST, current, ChangeRequest(state, "alice", "by hand"), at)  # type: ignore[arg-type]
    assert change is not None
    return change


def test_a_test_flagged_for_less_than_n_hours_is_left_alone() -> None:
    assert decide(_flaky(), None, DAY, MON + timedelta(hours=23, minutes=59)) is None


def test_a_test_flagged_for_n_hours_is_muted_as_of_when_it_was_due() -> None:
    change = decide(_flaky(), None, DAY, MON + timedelta(hours=30))
    assert change is not None
    assert (change.state, change.set_by, change.source) == ("muted", AUTO, "policy")
    assert change.at == MON + timedelta(hours=24)
    assert change.until is None
    assert "flaky since 2026-11-30 10:00Z, for more than 24 h" in change.reason


def test_two_instances_noticing_at_different_times_make_the_same_change() -> None:
    one = decide(_flaky(), None, DAY, MON + timedelta(hours=25))
    two = decide(_flaky(), None, DAY, MON + timedelta(hours=40))
    assert one is not None
    assert one == two


def test_a_muted_test_is_not_muted_again() -> None:
    muted = decide(_flaky(), None, DAY, MON + timedelta(hours=25))
    assert decide(_flaky(), muted, DAY, MON + timedelta(hours=26)) is None


def test_a_person_unmuting_during_the_flag_has_the_last_word() -> None:
    muted = decide(_flaky(), None, DAY, MON + timedelta(hours=25))
    unmuted = _manual("active", MON + timedelta(hours=26), muted)
    assert decide(_flaky(), unmuted, DAY, MON + timedelta(days=5)) is None


def test_a_person_unmuting_before_this_flag_started_does_not_stop_the_policy() -> None:
    old = _manual("active", MON - timedelta(days=3), _manual("muted", MON - timedelta(days=9)))
    change = decide(_flaky(), old, DAY, MON + timedelta(hours=25))
    assert change is not None
    assert change.state == "muted"


def test_a_recovered_test_the_policy_muted_is_unmuted_as_of_its_recovery() -> None:
    muted = decide(_flaky(), None, DAY, MON + timedelta(hours=25))
    recovered_at = MON + timedelta(days=3)
    change = decide(
        Flag(TEST, "stable", MON, recovered_at), muted, DAY, recovered_at + timedelta(1)
    )
    assert change is not None
    assert (change.state, change.set_by, change.source) == ("active", AUTO, "policy")
    assert change.at == recovered_at


def test_a_recovered_test_a_person_muted_stays_muted() -> None:
    muted = _manual("muted", MON + timedelta(hours=2))
    assert decide(Flag(TEST, "stable", MON, MON + timedelta(days=2)), muted, DAY,
                  MON + timedelta(days=3)) is None  # fmt: skip


def test_a_test_a_person_skipped_is_not_muted_by_the_policy() -> None:
    skipped = _manual("skipped", MON - timedelta(days=1))
    assert decide(_flaky(), skipped, DAY, MON + timedelta(days=2)) is None


def test_a_stable_test_never_quarantined_is_left_alone() -> None:
    assert decide(Flag(TEST, "stable", None, MON), None, DAY, MON) is None
