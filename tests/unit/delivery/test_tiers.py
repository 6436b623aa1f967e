"""The DORA 2023 tiers as DevLake cuts them, at and around every boundary."""

from __future__ import annotations

import pytest

from services.delivery.tiers import (
    DAY,
    HOUR,
    MONTH,
    WEEK,
    Tier,
    change_failure_tier,
    frequency_tier,
    lead_time_tier,
    restore_tier,
)


@pytest.mark.parametrize(
    ("per_week", "per_month", "tier"),
    [(7, 28, "elite"), (6, 26, "high"), (1, 4, "high"), (0, 1, "medium"), (0, 0, "low")],
)
def test_frequency_tier_cuts_at_seven_and_one_days_a_week_then_one_a_month(
    per_week: float, per_month: float, tier: Tier
) -> None:
    assert frequency_tier(per_week, per_month) == tier


def test_no_deploys_have_no_frequency_tier() -> None:
    assert frequency_tier(None, None) is None


@pytest.mark.parametrize(
    ("seconds", "tier"),
    [
        (DAY - 1, "elite"),
        (DAY, "high"),
        (WEEK - 1, "high"),
        (WEEK, "medium"),
        (MONTH - 1, "medium"),
        (MONTH, "low"),
    ],
)
def test_lead_time_tier_is_under_a_day_a_week_thirty_days(seconds: float, tier: Tier) -> None:
    assert lead_time_tier(seconds) == tier


@pytest.mark.parametrize(
    ("failed", "deploys", "tier"),
    [
        (0, 5, "elite"),
        (1, 20, "elite"),  # exactly 5%
        (2, 39, "high"),  # 5.1%
        (2, 20, "high"),  # exactly 10%
        (3, 29, "medium"),  # 10.3%
        (3, 20, "medium"),  # exactly 15%
        (4, 26, "low"),  # 15.4%
        (1, 1, "low"),
    ],
)
def test_change_failure_tier_includes_its_upper_bound(
    failed: int, deploys: int, tier: Tier
) -> None:
    assert change_failure_tier(failed, deploys) == tier


def test_no_deploys_have_no_change_failure_tier_instead_of_dividing_by_zero() -> None:
    assert change_failure_tier(0, 0) is None


@pytest.mark.parametrize(
    ("seconds", "tier"),
    [
        (0, "elite"),
        (HOUR - 1, "elite"),
        (HOUR, "high"),
        (DAY - 1, "high"),
        (DAY, "medium"),
        (WEEK - 1, "medium"),
        (WEEK, "low"),
    ],
)
def test_restore_tier_is_under_an_hour_a_day_a_week(seconds: float, tier: Tier) -> None:
    assert restore_tier(seconds) == tier


def test_nothing_measured_has_no_tier() -> None:
    assert lead_time_tier(None) is None
    assert restore_tier(None) is None
