"""Who may read, what a refusal looks like, and what the API does not do (write)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from services.api.app import create_app
from services.api.database import read_engine
from services.api.settings import ApiSettings, check_exposure, is_loopback, read_settings
from services.catalog.catalog import Catalog
from services.cli import main
from services.common.settings import SettingsError
from services.store.tables import alerts
from tests.unit.api.conftest import serving
from tests.unit.api.rows import add_alert, add_test


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_may_serve_without_tokens(host: str) -> None:
    assert is_loopback(host)
    check_exposure(host, ApiSettings())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "api.example.com"])  # noqa: S104
def test_any_other_address_refuses_to_start_without_read_tokens(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(SettingsError, match="KITESTREAM_READ_TOKENS is not set"):
        check_exposure(host, ApiSettings())
    check_exposure(host, ApiSettings(read_tokens=[SecretStr("t")]))


def test_read_tokens_come_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KITESTREAM_READ_TOKENS", "new-token, old-token")
    tokens = ApiSettings().read_tokens
    assert [t.get_secret_value() for t in tokens] == ["new-token", "old-token"]
    assert "new-token" not in repr(ApiSettings())


async def test_with_tokens_a_request_needs_a_valid_bearer_token(
    store: sa.Engine, tmp_path: Path, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    with store.begin() as conn:
        add_alert(conn, "a1")
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        read_tokens=[SecretStr("reader-token-1"), SecretStr("reader-token-2")],
    )
    caplog.set_level(logging.DEBUG)
    async with serving(settings, catalog) as api:
        for headers in (
            {},
            {"authorization": "Bearer wrong-token"},
            {"authorization": "Basic cmVhZGVyOnRva2Vu"},
            {"authorization": "reader-token-1"},
        ):
            refused = await api.get("/api/v1/alerts", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["error"] == "unauthorized"
        for token in ("reader-token-1", "reader-token-2"):
            ok = await api.get("/api/v1/alerts", headers={"authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            assert [a["alert_id"] for a in ok.json()["items"]] == ["a1"]
        assert (await api.get("/healthz")).status_code == 200
        assert (await api.get("/openapi.json")).status_code == 200
    assert "reader-token" not in caplog.text
    assert "wrong-token" not in caplog.text


async def test_refusals_are_json_errors_with_the_receivers_shape(api: httpx.AsyncClient) -> None:
    cases = {
        "/api/v1/alerts?kind=bogus": (422, "invalid_query"),
        "/api/v1/alerts?servce=typo": (422, "invalid_query"),
        "/api/v1/alerts?since=yesterday": (422, "invalid_query"),
        "/api/v1/alerts?limit=0": (422, "invalid_query"),
        "/api/v1/alerts?limit=100000": (422, "invalid_query"),
        "/api/v1/alerts?limit=ten": (422, "invalid_query"),
        "/api/v1/alerts?kind=flaky_test&kind=flaky_test": (422, "invalid_query"),
        "/api/v1/alerts?cursor=not-ours": (400, "bad_request"),
        "/api/v1/nothing-here": (404, "not_found"),
        "/api/v1/services/nobody": (404, "not_found"),
        "/api/v1/services/payments-api?recent=1000": (422, "invalid_query"),
    }
    for path, (status, code) in cases.items():
        response = await api.get(path)
        assert (response.status_code, response.json()["error"]) == (status, code), path
        assert response.json()["detail"]
        assert response.headers["content-type"] == "application/json"
    post = await api.post("/api/v1/alerts", content=b"{}")
    assert post.status_code == 405
    assert post.json()["error"] == "method_not_allowed"


async def test_a_cursor_cannot_be_replayed_against_other_filters(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    with store.begin() as conn:
        for i in range(3):
            add_alert(conn, f"a{i}", kind="flaky_test")
    first = (await api.get("/api/v1/alerts", params={"limit": 1, "kind": "flaky_test"})).json()
    assert first["next"]
    other = await api.get("/api/v1/alerts", params={"limit": 1, "cursor": first["next"]})
    assert other.status_code == 400
    assert "other filters" in other.json()["detail"]


async def test_markup_in_a_test_name_comes_back_as_data_unchanged(
    api: httpx.AsyncClient, store: sa.Engine
) -> None:
    name = "test_<script>alert('x')</script>&amp;\u2028\"quoted\""
    with store.begin() as conn:
        add_test(conn, f"s/scope/{name}")
    response = await api.get("/api/v1/tests", params={"q": "<script>"})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert [t["name"] for t in response.json()["items"]] == [name]


async def test_the_api_cannot_write_to_the_store(store: sa.Engine, tmp_path: Path) -> None:
    engine = read_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with pytest.raises(sa.exc.OperationalError, match="readonly"), engine.begin() as conn:
            add_alert(conn, "sneaky")
        with store.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar() == 0
    finally:
        engine.dispose()


async def test_a_store_not_migrated_yet_answers_503_and_is_not_ready(tmp_path: Path) -> None:
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    async with serving(settings, Catalog()) as api:
        response = await api.get("/api/v1/alerts")
        assert response.status_code == 503
        assert response.json()["error"] == "unavailable"
        assert (await api.get("/readyz")).status_code == 503
        assert (await api.get("/healthz")).status_code == 200


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_API_PAGE_LIMIT", "0")
    with pytest.raises(SettingsError, match="KITESTREAM_API_PAGE_LIMIT"):
        read_settings()


def test_an_unreadable_catalog_or_database_url_stops_the_start(tmp_path: Path) -> None:
    missing = ApiSettings(catalog=tmp_path / "nowhere.yaml")
    with pytest.raises(SettingsError, match="KITESTREAM_CATALOG"):
        create_app(missing)
    with pytest.raises(SettingsError, match="KITESTREAM_DATABASE_URL"):
        create_app(ApiSettings(database_url="mysql://db/kitestream"), catalog=Catalog())


def test_the_command_exits_2_off_loopback_without_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KITESTREAM_READ_TOKENS", raising=False)
    assert main(["api", "--host", "0.0.0.0", "--port", "1"]) == 2  # noqa: S104
    assert "KITESTREAM_READ_TOKENS is not set" in capsys.readouterr().err


async def test_without_write_tokens_a_quarantine_change_is_forbidden_even_on_loopback(
    api: httpx.AsyncClient,
) -> None:
    body = {"suite": "s", "name": "t", "state": "muted", "reason": "r", "by": "a"}
    answer = await api.post("/api/v1/quarantine", json=body, headers={"authorization": "Bearer x"})
    assert answer.status_code == 403
    assert "KITESTREAM_WRITE_TOKENS is not set" in answer.json()["detail"]
