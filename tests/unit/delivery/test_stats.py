"""Medians as Four Keys and DevLake take them; calendar steps."""

from __future__ import annotations

from datetime import date

from services.delivery.stats import add_months, lower_median, median, week_start


def test_median_interpolates_an_even_count_like_percentile_cont() -> None:
    assert median([10, 1, 3, 2]) == 2.5
    assert median([3, 1, 2]) == 2
    assert median([]) is None


def test_lower_median_takes_the_lower_middle_like_devlakes_percent_rank() -> None:
    assert lower_median([10, 1, 3, 2]) == 2
    assert lower_median([1, 1, 1, 2]) == 1
    assert lower_median([4]) == 4
    assert lower_median([]) is None


def test_weeks_start_on_monday() -> None:
    assert week_start(date(2026, 11, 8)) == date(2026, 11, 2)  # a Sunday
    assert week_start(date(2026, 11, 2)) == date(2026, 11, 2)


def test_three_months_back_clamps_to_the_months_last_day() -> None:
    assert add_months(date(2026, 5, 31), -3) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 29), -3) == date(2026, 8, 29)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)
