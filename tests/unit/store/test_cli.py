from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import build_parser
from services.store.cli import _policy
from services.store.database import StoreDatabaseError, normalise_url
from services.store.settings import StoreSettings

DEMO_CATALOG = Path(__file__).parents[3] / "deploy" / "demo" / "catalog.yaml"


def test_tests_get_the_service_that_owns_their_suite_in_the_catalog() -> None:
    policy = _policy(StoreSettings(catalog=DEMO_CATALOG, all_executions=True))
    assert policy.service_of_suite("payments-pytest") == "payments-api"
    assert policy.service_of_suite("nobody-owns-this") is None
    assert policy.store_all_executions


def test_without_a_catalog_no_test_has_a_service() -> None:
    assert _policy(StoreSettings()).service_of_suite("payments-pytest") is None


def test_an_unreadable_catalog_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "catalog.yaml"
    broken.write_text("services: [not, a, mapping]\n")
    assert _policy(StoreSettings(catalog=broken)).service_of_suite("payments-pytest") is None


def test_settings_come_from_the_contract_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_DATABASE_URL", "postgresql://kite@db/ks")
    monkeypatch.setenv("KITESTREAM_STORE_ALL_EXECUTIONS", "true")
    monkeypatch.setenv("KITESTREAM_STORE_RESULTS_DAYS", "7")
    settings = StoreSettings()
    assert settings.all_executions
    assert settings.results_days == 7
    assert normalise_url(settings.database_url).drivername == "postgresql+psycopg"


def test_only_sqlite_and_postgresql_urls_are_taken() -> None:
    with pytest.raises(StoreDatabaseError, match="sqlite or postgresql"):
        normalise_url("mysql://x@y/z")
    with pytest.raises(StoreDatabaseError, match="not a database URL"):
        normalise_url("::::")


def test_kitestream_store_takes_no_migrate_and_a_migrate_action() -> None:
    args = build_parser().parse_args(["store", "--no-migrate"])
    assert (args.no_migrate, args.action) == (True, None)
    args = build_parser().parse_args(["store", "migrate", "--revision", "0001"])
    assert (args.action, args.revision) == ("migrate", "0001")
