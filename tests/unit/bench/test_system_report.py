"""``bench.system``'s report of several rounds: each round, the medians, the aim counted."""

from __future__ import annotations

import argparse

import pytest

from bench.rig import Sent
from bench.steps import Latency, Step
from bench.system import Outcome, parse_args, report, rounds_report


def _round(sink_p99_s: float, *, arrived: int = 100) -> Step:
    """A round of ``arrived`` alerts of 100: all at the sink after 0.1 s but the two
    slowest, at ``sink_p99_s`` (the nearest-rank p99 of 100 values, the 99th) and half
    a second after it."""
    sink = [0.1] * (arrived - 2) + [sink_p99_s, sink_p99_s + 0.5]
    return Step(
        rate=200.0,
        seconds=30.0,
        answered=Latency((0.01,) * 500),
        on_topic=Latency(tuple(sink)),
        at_sink=Latency(tuple(sink)),
        dispatch=Latency((0.005,) * arrived),
        expected=100,
    )


def _outcome(*p99s: float) -> Outcome:
    bare = Step(rate=200.0, seconds=30.0, answered=Latency((0.005,)), on_topic=Latency((0.01,)))
    return Outcome(bare, [_round(p) for p in p99s], [], [])


def _args(*argv: str) -> argparse.Namespace:
    return parse_args(["--sweep", "", *argv])


def test_the_table_shows_the_median_round_and_the_aim_counts_every_round() -> None:
    outcome = _outcome(0.6, 1.3, 0.8)
    assert outcome.system is outcome.rounds[2]  # p99 0.8 s: the middle of 0.6, 0.8, 1.3
    text = report(outcome, _args("--rounds", "3"), load_before=1.0)
    assert "the median round of 3 (each round below):" in text
    assert "aim p99 < 1 s at 200/s mixed: met in 2 of 3 rounds" in text
    assert (
        "medians of the rounds' p99: 202 10 ms, alert on topic 800 ms, alert at sink 800 ms" in text
    )
    rows = [line.split() for line in text.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert [row[3] for row in rows] == ["100/600", "100/1300", "100/800"]  # sink p50/p99, ms
    assert all(row[4] == "100/100" for row in rows)


def test_one_round_reports_as_before() -> None:
    text = report(_outcome(1.2), _args(), load_before=1.0)
    assert "aim p99 < 1 s at 200/s mixed: NOT met" in text
    assert "median round" not in text
    assert "medians of the rounds" not in text


def test_a_round_with_an_alert_missing_is_the_worst_and_misses_the_aim() -> None:
    outcome = _outcome(0.5, 0.5)
    outcome.rounds[1] = _round(0.5, arrived=90)
    assert outcome.system is outcome.rounds[0]
    text = report(outcome, _args("--rounds", "2"), load_before=1.0)
    assert "met in 1 of 2 rounds" in text
    assert "90/100" in "\n".join(rounds_report(outcome.rounds))


def test_rounds_must_be_at_least_one() -> None:
    assert parse_args(["--rounds", "4"]).rounds == 4
    assert parse_args(["--quick"]).rounds == 2
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "0"])


def test_failed_requests_are_told_by_status_and_connection_error() -> None:
    sent = Sent(failed=4, statuses={202: 96, 503: 2, 413: 1}, errors={"ConnectionResetError": 1})
    assert sent.why_failed() == "1 HTTP 413, 2 HTTP 503, 1 ConnectionResetError"
