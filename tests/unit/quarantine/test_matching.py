"""How the pytest plugin names a collected test (as Buildkite's collector and JUnit XML
do), and the CLI's durations."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from services.quarantine.cli import parse_for
from services.quarantine.client import Quarantined
from services.quarantine.pytest_plugin import QuarantinePlugin, scopes_of


@pytest.mark.parametrize(
    ("nodeid", "scopes", "name"),
    [
        ("test_sample.py::test_ok", {"test_sample.py", "test_sample"}, "test_ok"),
        (
            "tests/test_auth.py::TestLogin::test_success",
            {"tests/test_auth.py::TestLogin", "tests.test_auth.TestLogin"},
            "test_success",
        ),
        ("tests/test_p.py::test_p[1-a]", {"tests/test_p.py", "tests.test_p"}, "test_p[1-a]"),
    ],
)
def test_a_node_id_gives_the_collectors_scope_the_junit_scope_and_the_name(
    nodeid: str, scopes: set[str], name: str
) -> None:
    assert scopes_of(nodeid) == (scopes, name)


def _q(scope: str, name: str, state: str) -> Quarantined:
    return Quarantined(f"s/{scope}/{name}", "s", scope, name, None, state, "r", "a", None)


def test_quarantined_tests_are_split_into_muted_and_skipped_by_scope_and_name() -> None:
    plugin = QuarantinePlugin.of(
        [_q("tests.test_a", "test_x", "muted"), _q("tests/test_a.py", "test_y", "skipped")]
    )
    assert set(plugin.muted) == {("tests.test_a", "test_x")}
    assert set(plugin.skipped) == {("tests/test_a.py", "test_y")}


@pytest.mark.parametrize(
    ("text", "duration"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
     ("2w", timedelta(weeks=2))],
)  # fmt: skip
def test_durations_read_as_minutes_hours_days_weeks(text: str, duration: timedelta) -> None:
    assert parse_for(text) == duration


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "1y", "d"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_for(text)
