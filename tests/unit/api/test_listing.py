"""``kitestream alerts list`` and ``kitestream flaky list --database`` on a store file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from services.cli import main
from tests.unit.api.rows import T0, add_alert, add_test, hours


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def run_failing(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit code and what went to stderr (the command configures its own logging)."""
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_alerts_list_reads_the_store_newest_first_across_pages(
    store: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with store.begin() as conn:
        for i in range(7):
            add_alert(conn, f"a{i}", created_at=T0 + hours(i), summary=f"alert number {i}")
        add_alert(conn, "f1", kind="flaky_test", severity="warning", created_at=T0 - hours(1))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code, out = run(capsys, "alerts", "list", "--database", url, "--json", "--limit", "600")
    assert code == 0
    alerts: list[dict[str, Any]] = orjson.loads(out)
    assert [a["alert_id"] for a in alerts] == ["a6", "a5", "a4", "a3", "a2", "a1", "a0", "f1"]
    code, out = run(capsys, "alerts", "list", "--database", url, "--kind", "flaky_test")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CREATED", "SEVERITY", "KIND", "SERVICE", "SUMMARY"]
    assert lines[1].split()[:5] == [
        "2026-08-01",
        "09:00:00",
        "warning",
        "flaky_test",
        "payments-api",
    ]
    assert len(lines) == 2
    code, out = run(capsys, "alerts", "list", "--database", url, "--limit", "2", "--json")
    assert [a["alert_id"] for a in orjson.loads(out)] == ["a6", "a5"]
    code, out = run(
        capsys, "alerts", "list", "--database", url, "--json",
        "--since", "2026-08-01T14:00:00Z", "--until", "2026-08-01T16:00",
    )  # fmt: skip
    assert [a["alert_id"] for a in orjson.loads(out)] == ["a5", "a4"]
    code, out = run(capsys, "alerts", "list", "--database", url, "--json", "--since", "5200w")
    assert len(orjson.loads(out)) == 8


def test_alerts_list_says_why_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    code, err = run_failing(capsys, "alerts", "list", "--database", missing)
    assert code == 1
    assert "cannot list alerts" in err
    assert "Traceback" not in err
    code, err = run_failing(capsys, "alerts", "list", "--api", "http://127.0.0.1:9")
    assert code == 1
    assert "cannot list alerts" in err


def test_flaky_list_reads_the_store_when_given_a_database(
    store: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = [
        {
            "kind": "same_commit",
            "at": "2026-08-01T10:00:00Z",
            "urls": ["https://buildkite.com/acme/app/builds/7#job"],
            "detail": "failed then passed",
        }
    ]
    with store.begin() as conn:
        add_test(conn, "s/a/flaky_one", status="flaky", score=0.4, flaky_since=T0,
                 window_runs=20, window_failures=5, window_flips=8, last_evidence=evidence,
                 state_updated_at=T0)  # fmt: skip
        add_test(conn, "s/a/calm_one", status="stable", score=0.0, state_updated_at=T0)
        add_test(conn, "t/a/unscored", status=None)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code, out = run(capsys, "flaky", "list", "--database", url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SCORE", "STATUS", "SINCE", "TEST", "LAST", "EVIDENCE"]
    assert lines[1].split() == [
        "0.40", "flaky", "2026-08-01", "10:00", "s/a/flaky_one",
        "https://buildkite.com/acme/app/builds/7#job",
    ]  # fmt: skip
    assert len(lines) == 2
    code, out = run(capsys, "flaky", "list", "--database", url, "--all", "--json")
    states = orjson.loads(out)
    assert [(s["key"], s["runs"]) for s in states] == [("s/a/flaky_one", 20), ("s/a/calm_one", 0)]
    code, out = run(capsys, "flaky", "list", "--database", url, "--suite", "t")
    assert out == "no flaky tests\n"
