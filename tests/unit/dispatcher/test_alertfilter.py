"""Which alerts `kitestream alerts tail` shows, and which are the last N."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatcher.alertfilter import AlertFilter, Seen, last, parse_since
from services.dispatcher.tail import add_arguments
from tests.unit.dispatcher.factories import T0, make_alert

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("1d", NOW - timedelta(days=1)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-08-01T10:00:00Z", datetime(2026, 8, 1, 10, 0, tzinfo=UTC)),
        ("2026-08-01T12:00:00+02:00", datetime(2026, 8, 1, 10, 0, tzinfo=UTC)),
        ("2026-08-01", datetime(2026, 8, 1, tzinfo=UTC)),
    ],
)
def test_since_takes_a_time_a_date_or_how_long_ago(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "15", "m", "2026-13-01", "-1h"])
def test_since_says_what_it_expected_when_it_cannot_read_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="expected a time like"):
        parse_since(text, NOW)


def test_every_given_filter_must_fit() -> None:
    failure = make_alert(1, service="ledger")
    flaky = make_alert(2, kind="flaky_test", severity="warning", service=None)
    assert AlertFilter().matches(failure)
    assert AlertFilter(kinds=frozenset({"flaky_test"})).matches(flaky)
    assert not AlertFilter(kinds=frozenset({"flaky_test"})).matches(failure)
    assert AlertFilter(services=frozenset({"ledger"})).matches(failure)
    assert not AlertFilter(services=frozenset({"ledger"})).matches(flaky)
    assert AlertFilter(since=T0 + timedelta(minutes=2)).matches(flaky)
    assert not AlertFilter(since=T0 + timedelta(minutes=2)).matches(failure)
    both = AlertFilter(kinds=frozenset({"flaky_test"}), services=frozenset({"ledger"}))
    assert not both.matches(failure)
    assert not both.matches(flaky)


def test_the_last_n_are_the_newest_created_oldest_first_across_partitions() -> None:
    # partition 0: a(10:00) c(10:05) e(10:20); partition 1: b(10:02) d(10:10)
    minutes = {"a": 0, "b": 2, "c": 5, "d": 10, "e": 20}
    placed = {"a": (0, 0), "c": (0, 1), "e": (0, 2), "b": (1, 0), "d": (1, 1)}
    seen = {
        name: Seen(make_alert(minutes[name]), 0, *placed[name])
        for name in ("e", "a", "d", "b", "c")
    }
    assert last(seen.values(), 3) == [seen["c"], seen["d"], seen["e"]]
    assert last(seen.values(), None) == [seen[n] for n in "abcde"]
    assert last(seen.values(), 0) == []


def test_alerts_created_at_the_same_time_keep_their_kafka_order() -> None:
    alert = make_alert(1)
    first, second = Seen(alert, 5, 2, 9), Seen(alert, 6, 0, 1)
    assert last([second, first], 1) == [second]


def test_the_command_refuses_a_negative_count_and_an_unreadable_since() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["tail", "-n", "all", "--since", "2h"])
    assert args.lines is None
    assert args.follow is None
    assert parser.parse_args(["tail", "--no-follow"]).follow is False
    assert parser.parse_args(["tail", "-f", "-n", "0"]).lines == 0
    for wrong in (["-n", "-1"], ["-n", "ten"], ["--since", "soon"], ["--kind", "other"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["tail", *wrong])
