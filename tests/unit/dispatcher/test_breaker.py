"""The circuit breaker, with explicit times."""

from __future__ import annotations

from services.dispatcher.breaker import BreakerState, CircuitBreaker


def test_it_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown_s=30)
    breaker.record_failure(100)
    breaker.record_failure(101)
    assert breaker.state(101) is BreakerState.CLOSED
    assert breaker.wait_s(101) == 0
    breaker.record_failure(102)
    assert breaker.state(102) is BreakerState.OPEN
    assert breaker.wait_s(112) == 20


def test_a_success_between_failures_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_s=30)
    breaker.record_failure(100)
    breaker.record_success()
    breaker.record_failure(101)
    assert breaker.state(101) is BreakerState.CLOSED


def test_after_the_cooldown_one_probe_may_go_and_success_closes_it() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_s=30)
    breaker.record_failure(100)
    assert breaker.state(130) is BreakerState.HALF_OPEN
    assert breaker.wait_s(130) == 0
    breaker.record_success()
    assert breaker.state(130) is BreakerState.CLOSED


def test_a_failed_probe_reopens_it_for_twice_as_long_up_to_the_maximum() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_s=30, max_cooldown_s=100)
    breaker.record_failure(0)
    breaker.record_failure(30)  # the probe
    assert breaker.state(60) is BreakerState.OPEN
    assert breaker.wait_s(30) == 60
    breaker.record_failure(90)
    assert breaker.wait_s(90) == 100  # 120, capped
    breaker.record_success()
    breaker.record_failure(500)
    assert breaker.wait_s(500) == 30  # back to the base cooldown


def test_failures_of_requests_sent_before_it_opened_do_not_count_as_failed_probes() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_s=30)
    breaker.record_failure(10, sent_at=9)
    breaker.record_failure(11, sent_at=9)  # opens at 11
    breaker.record_failure(12, sent_at=9)  # sent with the others, answered later
    breaker.record_failure(40, sent_at=10)
    assert breaker.wait_s(12) == 29
    assert breaker.state(41) is BreakerState.HALF_OPEN  # still the first cooldown
    breaker.record_failure(42, sent_at=41)  # the probe, sent after it opened
    assert breaker.wait_s(42) == 60
