"""The console's pages in-process on a store written row by row: what each shows,
escaping, sorting and paging, errors as pages, and who may read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.console.app import COOKIE
from services.console.views import alert_marks, moment
from services.store import tables as t
from tests.unit.api.conftest import serving
from tests.unit.api.rows import (
    add_alert,
    add_build,
    add_day,
    add_delivery,
    add_evidence,
    add_pipeline,
    add_test,
)

NOW = datetime.now(UTC)
SCRIPT = "<script>alert(1)</script>"


def _flaky(store: sa.Engine, count: int = 3) -> None:
    with store.begin() as conn:
        for i in range(count):
            add_test(
                conn,
                f"payments-pytest/tests.pay/test_{i:03d}",
                status="flaky",
                score=i / 100,
                flaky_since=NOW,
                window_runs=10,
                last_evidence=[{"kind": "same_commit", "commit": "abc", "urls": ["https://b/1"]}],
            )
        add_test(conn, f"other/tests.x/{SCRIPT}", status="flaky", score=0.5)
        add_test(conn, "other/tests.x/test_stable")


async def test_flaky_page_lists_flaky_tests_by_score_and_escapes_names(
    store: sa.Engine, api: httpx.AsyncClient
) -> None:
    _flaky(store)
    page = await api.get("/flaky")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "test_stable" not in html
    assert html.index("&lt;script&gt;") < html.index("test_002") < html.index("test_000")
    assert "payments-api" in html  # the catalog maps payments-pytest to it


async def test_flaky_page_filters_sorts_and_pages(store: sa.Engine, api: httpx.AsyncClient) -> None:
    _flaky(store, 60)
    first = (await api.get("/flaky", params={"sort": "name", "dir": "asc"})).text
    assert "test_000" in first
    assert "test_059" not in first
    assert "page 1 of 2" in first
    second = (await api.get("/flaky", params={"sort": "name", "dir": "asc", "page": "2"})).text
    assert "test_059" in second
    assert "test_000" not in second
    only = (await api.get("/flaky", params={"suite": "other"})).text
    assert "test_000" not in only
    assert "&lt;script&gt;" in only
    none = (await api.get("/flaky", params={"q": "nothing-like-this"})).text
    assert 'id="no-flaky"' in none
    odd = await api.get("/flaky", params={"sort": "bogus", "page": "x"})
    assert odd.status_code == 200


async def test_a_test_page_draws_its_days_evidence_and_episodes(
    store: sa.Engine, api: httpx.AsyncClient
) -> None:
    key = "payments-pytest/tests.pay/test_charge"
    with store.begin() as conn:
        add_test(conn, key, status="flaky", flaky_since=NOW)
        add_day(conn, key, NOW.date(), duration_p50_s=0.2, duration_p95_s=0.9)
        add_day(conn, key, NOW.date() - timedelta(days=1), duration_p50_s=0.3)
        add_evidence(conn, "e1", key, NOW)
        conn.execute(sa.insert(t.flaky_episodes).values(test_key=key, flagged_at=NOW))
    html = (await api.get("/tests/payments-pytest%2Ftests.pay%2Ftest_charge")).text
    assert '<rect class="pass"' in html
    assert "<polyline" in html
    assert "https://buildkite.com/acme/app/builds/1#j1" in html
    assert "still flaky" in html


async def test_unknown_things_are_html_404_pages(api: httpx.AsyncClient) -> None:
    for path in ("/tests/no%2Fsuch", "/alerts/nope", "/services/nope", "/pipelines/nope"):
        page = await api.get(path)
        assert page.status_code == 404, path
        assert "<h1>404</h1>" in page.text


def _correlated(store: sa.Engine) -> None:
    t0 = NOW - timedelta(hours=1)
    with store.begin() as conn:
        body = add_alert(conn, "a1", created_at=NOW, summary="deploy then failure")
        body |= {
            "deploy": {"deploy_id": "d1", "at": t0.isoformat(), "state": "succeeded"},
            "failure": {"at": (t0 + timedelta(minutes=10)).isoformat(), "title": "#2 failed"},
            "incident": {"opened_at": (t0 + timedelta(minutes=30)).isoformat(), "title": SCRIPT},
            "reasons": ["same commit"],
            "score": 0.9,
            "links": {"build": "https://buildkite.com/acme/app/builds/2"},
        }
        conn.execute(sa.update(t.alerts).where(t.alerts.c.alert_id == "a1").values(body=body))
        add_delivery(conn, "a1", "slack", attempts=2, at=NOW)
        add_alert(conn, "a2", kind="flaky_test", severity="warning", created_at=NOW)


async def test_alerts_feed_filters_by_kind(store: sa.Engine, api: httpx.AsyncClient) -> None:
    _correlated(store)
    every = (await api.get("/alerts")).text
    assert "/alerts/a1" in every
    assert "/alerts/a2" in every
    flaky = (await api.get("/alerts", params={"kind": "flaky_test"})).text
    assert "/alerts/a1" not in flaky
    assert "/alerts/a2" in flaky
    bad = await api.get("/alerts", params={"since": "yesterday"})
    assert bad.status_code == 422


async def test_an_alert_page_draws_its_timeline_with_deliveries(
    store: sa.Engine, api: httpx.AsyncClient
) -> None:
    _correlated(store)
    html = (await api.get("/alerts/a1")).text
    for kind in ("deploy", "failure", "incident", "alert", "delivery"):
        assert f'<g class="mark {kind}">' in html
    assert SCRIPT not in html
    assert "same commit" in html
    assert "slack" in html
    assert "0.90" in html


def test_alert_marks_leave_out_what_has_no_time() -> None:
    marks = alert_marks({"created_at": "2026-08-01T10:00:00Z", "deploy": {"at": "soon"}})
    assert [m.kind for m in marks] == ["alert"]


def test_moment_reads_datetimes_and_rfc3339_text() -> None:
    assert moment("2026-08-01T10:00:00Z") == datetime(2026, 8, 1, 10, tzinfo=UTC)
    assert moment(datetime(2026, 8, 1, 10)) == datetime(2026, 8, 1, 10, tzinfo=UTC)
    assert moment("2026-08-01T10:00:00") == datetime(2026, 8, 1, 10, tzinfo=UTC)
    assert moment("") is None
    assert moment(None) is None
    assert moment("never") is None


async def test_overview_service_and_pipeline_pages(
    store: sa.Engine, api: httpx.AsyncClient
) -> None:
    _flaky(store, 2)
    _correlated(store)
    with store.begin() as conn:
        add_pipeline(conn, "payments-api", default_branch="main")
        add_build(
            conn,
            "b1",
            "payments-api",
            state="failed",
            branch="main",
            created_at=NOW,
            started_at=NOW,
            finished_at=NOW + timedelta(minutes=3),
        )
        conn.execute(
            sa.insert(t.store_offsets).values(
                group_id="g", topic="alerts", partition=0, next_offset=7
            )
        )
    overview = (await api.get("/")).text
    assert 'id="flaky-count">3<' in overview
    assert "/alerts/a1" in overview
    assert "/pipelines/payments-api" in overview
    assert "<polyline" in overview or "<circle" in overview
    service = (await api.get("/services/payments-api")).text
    assert "/alerts/a1" in service
    pipeline = (await api.get("/pipelines/payments-api")).text
    assert '<rect class="fail"' in pipeline
    assert "0%" in pipeline


async def test_an_unmigrated_store_is_a_503_page(settings: ApiSettings, catalog: Catalog) -> None:
    async with serving(settings, catalog) as client:
        page = await client.get("/flaky")
    assert page.status_code == 503
    assert "not migrated" in page.text


@pytest.fixture
def guarded(settings: ApiSettings) -> ApiSettings:
    return settings.model_copy(update={"read_tokens": [SecretStr("s3cret")]})


async def test_with_read_tokens_pages_need_the_login_cookie_or_a_bearer(
    store: sa.Engine, guarded: ApiSettings, catalog: Catalog
) -> None:
    async with serving(guarded, catalog) as client:
        away = await client.get("/flaky?suite=x")
        assert away.status_code == 303
        assert away.headers["location"] == "/login?next=%2Fflaky%3Fsuite%3Dx"
        form = await client.get("/login?next=//evil.example/")
        assert 'value="/"' in form.text
        refused = await client.post("/login", data={"token": "nope", "next": "/flaky"})
        assert refused.status_code == 401
        assert COOKIE not in refused.headers.get("set-cookie", "")
        let_in = await client.post("/login", data={"token": "s3cret", "next": "/flaky"})
        assert let_in.status_code == 303
        assert let_in.headers["location"] == "/flaky"
        cookie = let_in.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "s3cret" not in (await client.get("/flaky")).text
        assert (await client.get("/flaky")).status_code == 200  # the client keeps the cookie
        out = await client.post("/logout")
        assert out.status_code == 303
        client.cookies.clear()
        assert (await client.get("/flaky")).status_code == 303
        bearer = await client.get("/flaky", headers={"authorization": "Bearer s3cret"})
        assert bearer.status_code == 200
        assert 'action="/logout"' in bearer.text
