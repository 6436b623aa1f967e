"""How `kitestream alerts tail` shows an alert."""

from __future__ import annotations

from services.dispatcher.tail import format_alert
from tests.unit.dispatcher.factories import make_alert


def test_plain_output_has_the_time_severity_kind_service_summary_reasons_and_links() -> None:
    alert = make_alert(1, failing_tests_known_flaky=True)
    lines = format_alert(alert, color=False).splitlines()
    assert lines[0] == "2026-08-01 10:01:00Z  CRITICAL  failure_deploy_incident  payments-api"
    assert lines[1] == f"  {alert.summary}"
    assert lines[2] == "  reasons: same commit · same service"
    assert lines[3] == "  every failing test is known flaky"
    assert lines[4] == f"  build: {alert.links['build']}"
    assert lines[-1] == f"  alert {alert.alert_id}  score 0.90"
    assert "\033[" not in "".join(lines)


def test_colour_marks_the_severity() -> None:
    coloured = format_alert(make_alert(2, severity="warning"), color=True)
    assert "\033[1;33mWARNING " in coloured
    assert coloured.endswith("\033[0m\n")


def test_an_alert_without_service_reasons_or_links_stays_readable() -> None:
    alert = make_alert(3, service=None, reasons=[], links={}, score=None)
    lines = format_alert(alert, color=False).splitlines()
    assert lines[0].endswith("  -")
    assert len(lines) == 3
