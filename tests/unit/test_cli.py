"""``kitestream``'s last word: exit 2 for settings, 1 for a crash, each said once."""

from __future__ import annotations

import argparse
import logging

import pytest

from services.cli import main


@pytest.fixture(autouse=True)
def _keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` configures the root logger; here pytest's capture keeps it."""
    monkeypatch.setattr("services.common.logs.configure_logging", lambda *_: None)


def test_a_bad_setting_is_one_error_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KITESTREAM_FLAKINESS_WINDOW_SIZE", "1")
    assert main(["flakiness"]) == 2
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.ERROR,
            "kitestream flakiness cannot start: KITESTREAM_FLAKINESS_WINDOW_SIZE: "
            "Input should be greater than or equal to 2",
        )
    ]


def test_an_unexpected_failure_is_logged_once_with_its_traceback_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr("services.correlator.cli.run", crash)
    assert main(["correlator"]) == 1
    (record,) = caplog.records
    assert record.getMessage() == "kitestream correlator crashed: RuntimeError('a bug')"
    assert record.exc_info is not None
