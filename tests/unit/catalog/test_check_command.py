"""``kitestream catalog check``: exit status, the report, and JSON output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from services.cli import main

FIXTURES = Path(__file__).parents[2] / "fixtures" / "catalog"
FULL = FIXTURES / "full" / "catalog.yaml"
DEMO = Path(__file__).parents[3] / "deploy" / "demo" / "catalog.yaml"


def test_a_valid_catalog_prints_what_maps_where(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "check", str(FULL)]) == 0
    out = capsys.readouterr().out
    assert "4 services, 4 pipelines and 2 test suites listed, 1 warnings" in out
    assert "  payments-api  (team payments)" in out
    assert "    deploys by      pipeline payments-api-deploy" in out
    assert "  legacy-cron                  -> NOTHING (unmapped)" in out
    assert "  PZZZ999                      -> NOTHING (unmapped)" in out
    assert "  ledger-ci                    -> ledger" in out
    assert "unmapped: 3" in out


def test_errors_go_to_stderr_with_lines_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "check", str(FIXTURES / "broken" / "catalog.yaml")]) == 1
    err = capsys.readouterr().err
    assert "broken/catalog.yaml:3: unknown key 'pipeline'" in err
    assert err.rstrip().endswith("4 errors")


def test_json_output_lists_services_and_unmapped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "check", "--json", str(FULL)]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["services"]["ledger"]["dependents"] == ["payments-api"]
    assert data["unmapped"] == {
        "pipelines": ["legacy-cron"],
        "test_suites": ["orphan-jest"],
        "pagerduty_services": ["PZZZ999"],
    }


def test_strict_turns_warnings_into_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "check", "--strict", str(FULL)]) == 1
    capsys.readouterr()


def test_the_file_defaults_to_kitestream_catalog(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITESTREAM_CATALOG", str(DEMO))
    assert main(["catalog", "check", "--strict"]) == 0
    assert "payments-api" in capsys.readouterr().out
    monkeypatch.delenv("KITESTREAM_CATALOG")
    assert main(["catalog", "check"]) == 2


def test_json_output_of_a_broken_catalog_lists_errors_and_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["catalog", "check", "--json", str(FIXTURES / "broken" / "catalog.yaml")]) == 1
    data = orjson.loads(capsys.readouterr().out)
    assert len(data["errors"]) == 4
    assert data["warnings"][0].endswith("payments-api: no pipeline maps to this service")
