from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.reconcile.timestamps import api_time, parse_duration


def test_api_time_has_no_offset_and_no_microseconds() -> None:
    at = datetime(2026, 8, 1, 12, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert api_time(at) == "2026-08-01T10:00:05Z"
    assert api_time(datetime(2026, 8, 1, 10, 0, 5)) == "2026-08-01T10:00:05Z"  # naive: UTC
    assert api_time(datetime(2026, 8, 1, tzinfo=UTC)) == "2026-08-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("14d", 14 * 86400),
        ("36h", 36 * 3600),
        ("90m", 5400),
        ("2w", 1209600),
        ("1.5d", 129600),
        ("30s", 30),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "14", "d", "-1d", "0d", "14 days", "14y"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
