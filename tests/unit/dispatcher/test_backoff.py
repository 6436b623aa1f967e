"""Backoff with jitter, the retry budget, and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.dispatcher.backoff import GiveUp, Retry, RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_attempts=8, base_s=1.0, cap_s=30.0, give_up_after_s=600.0)
NOW = datetime(2026, 8, 1, 10, 0, 0, tzinfo=UTC)


def test_steps_double_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.step(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 7])
def test_a_wait_is_between_half_and_all_of_its_step(attempt: int) -> None:
    step = POLICY.step(attempt)
    assert POLICY.wait(attempt, 0.0) == step / 2
    assert step / 2 < POLICY.wait(attempt, 0.5) < step
    assert POLICY.wait(attempt, 0.999) < step


def test_retry_after_is_a_floor_on_the_wait() -> None:
    decision = POLICY.after_failure(attempt=1, elapsed_s=0, rand=0.5, retry_after_s=20)
    assert decision == Retry(20)
    shorter = POLICY.after_failure(attempt=5, elapsed_s=0, rand=0.0, retry_after_s=1)
    assert shorter == Retry(8)


def test_the_last_attempt_gives_up() -> None:
    assert POLICY.after_failure(attempt=7, elapsed_s=0, rand=0) == Retry(15)
    assert POLICY.after_failure(attempt=8, elapsed_s=0, rand=0) == GiveUp(
        "gave up after 8 attempts"
    )


def test_a_wait_that_would_end_past_the_budget_gives_up() -> None:
    assert POLICY.after_failure(attempt=3, elapsed_s=590, rand=0) == Retry(2)
    decision = POLICY.after_failure(attempt=3, elapsed_s=599, rand=0)
    assert isinstance(decision, GiveUp)
    assert "600s retry budget" in decision.why
    far = POLICY.after_failure(attempt=1, elapsed_s=0, rand=0, retry_after_s=3600)
    assert isinstance(far, GiveUp)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=10_000)
    assert policy.step(5000) == policy.cap_s


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("Sat, 01 Aug 2026 10:00:30 GMT", 30.0),
        ("Sat, 01 Aug 2026 09:59:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds
