"""The message base: UTC timestamps, stable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.base import stable_id
from schemas.deadletter import DeadLetter


def letter(at: datetime) -> DeadLetter:
    return DeadLetter(service="s", error="e", origin_topic="t", at=at)


def test_naive_times_are_read_as_utc_and_others_converted() -> None:
    assert letter(datetime(2026, 8, 1, 10, 0)).at == datetime(2026, 8, 1, 10, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert letter(datetime(2026, 8, 1, 12, 0, tzinfo=plus_two)).at == datetime(
        2026, 8, 1, 10, 0, tzinfo=UTC
    )


def test_a_time_that_overflows_in_utc_is_a_validation_error() -> None:
    minus_ten = timezone(timedelta(hours=-10))
    with pytest.raises(ValidationError, match="out of range"):
        letter(datetime(9999, 12, 31, 23, 59, tzinfo=minus_ten))


def test_stable_ids_depend_on_every_part_and_nothing_else() -> None:
    assert stable_id("a", {"x": 1, "y": 2}) == stable_id("a", {"y": 2, "x": 1})
    assert stable_id("a", 1) != stable_id("a", 2)
    assert len(stable_id("anything")) == 32
