"""The `kitestream dispatcher` command's checks at start, and its settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.dispatcher.cli import team_lookup
from services.dispatcher.errors import ConfigError
from services.dispatcher.settings import DispatcherSettings

ROUTES = """
sinks:
  oncall: {type: slack, url_env: SLACK_URL}
  log: {type: log}
routes:
  - match: {team: payments, severity: critical}
    to: [oncall]
  - to: log
"""


def dispatcher(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KITESTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "services", "dispatcher", *args],
        env={**clean, "KITESTREAM_LOG_FORMAT": "text", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_prints_the_sinks_and_routes_without_secrets(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    secret = "https://hooks.slack.com/services/T0/B0/s3cr3t"
    done = dispatcher("--check", env={"KITESTREAM_ROUTES": str(routes), "SLACK_URL": secret})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "sinks:",
        "  oncall: slack",
        "  log: log",
        "routes:",
        "  severity=critical, team=payments -> oncall",
        "  every alert -> log",
    ]
    assert "s3cr3t" not in done.stdout + done.stderr


def test_a_missing_secret_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    done = dispatcher("--routes", str(routes), env={})
    assert done.returncode == 2
    assert "sink 'oncall': url_env names SLACK_URL, which is not set" in done.stderr


def test_no_routes_file_stops_the_start_with_a_clear_message() -> None:
    done = dispatcher(env={})
    assert done.returncode == 2
    assert "no routes file: set KITESTREAM_ROUTES or pass --routes" in done.stderr


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_ROUTES", "/etc/kitestream/routes.yaml")
    monkeypatch.setenv("KITESTREAM_CATALOG", "/etc/kitestream/catalog.yaml")
    monkeypatch.setenv("KITESTREAM_DISPATCHER_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("KITESTREAM_DISPATCHER_DEV_MODE", "true")
    monkeypatch.setenv("KITESTREAM_TOPIC_PREFIX", "staging.")
    settings = DispatcherSettings()
    assert settings.consumer_group == "staging.kitestream-dispatcher"
    monkeypatch.setenv("KITESTREAM_DISPATCHER_GROUP", "alerts-team")
    assert DispatcherSettings().consumer_group == "alerts-team"
    assert settings.routes == Path("/etc/kitestream/routes.yaml")
    assert settings.catalog == Path("/etc/kitestream/catalog.yaml")
    assert settings.max_attempts == 3
    assert settings.dev_mode


def test_teams_come_from_the_service_catalog(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  payments-api: {team: payments}\n  ledger: {}\n")
    team_of = team_lookup(DispatcherSettings(routes=tmp_path / "r.yaml", catalog=catalog))
    assert team_of("payments-api") == "payments"
    assert team_of("ledger") is None
    no_catalog = team_lookup(DispatcherSettings(routes=tmp_path / "r.yaml", catalog=None))
    assert no_catalog("payments-api") is None


def test_a_broken_catalog_stops_the_start(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  payments-api: {tema: payments}\n")
    with pytest.raises(ConfigError, match="catalog"):
        team_lookup(DispatcherSettings(routes=tmp_path / "r.yaml", catalog=catalog))
