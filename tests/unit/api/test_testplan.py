"""bktec's plan API in-process on a store: durations from the daily rollups split the
plan, quarantined tests come from the store, bktec's error shape, suite tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.store import tables
from tests.unit.api.conftest import serving
from tests.unit.api.rows import add_day

PLAN = "/v2/analytics/organizations/acme/suites/s/test_plan"


def _quarantine(conn: sa.Connection, name: str, state: str, scope: str = "t1.py") -> None:
    conn.execute(sa.insert(tables.quarantine).values(
        test_key=f"s/{scope}/{name}", change_id=f"c-{name}", suite="s", scope=scope, name=name,
        file=None, state=state, reason="r", set_by="a", source="manual",
        at=datetime.now(UTC) - timedelta(hours=1), until=None,
    ))  # fmt: skip


async def test_a_plan_is_split_by_the_stored_durations_and_lists_quarantined_tests(
    store: sa.Engine, api: httpx.AsyncClient
) -> None:
    today = datetime.now(UTC).date()
    with store.begin() as conn:
        for file, mean in (("t0.py", 9.0), ("t1.py", 5.0), ("t2.py", 3.0), ("t3.py", 2.0)):
            add_day(conn, f"s/{file}/test_x", today, file=file, duration_count=2,
                    duration_sum_s=2 * mean)  # fmt: skip
        _quarantine(conn, "test_wobbly", "muted")
        _quarantine(conn, "test_hangs", "skipped")
    body = {"identifier": "b1/step", "parallelism": 2, "runner": "pytest",
            "tests": {"files": [{"path": f"t{i}.py"} for i in range(4)]}}  # fmt: skip
    answer = await api.post(PLAN, json=body)
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    nodes = [{t["path"] for t in plan["tasks"][n]["tests"]} for n in ("0", "1")]
    assert nodes == [{"t0.py"}, {"t1.py", "t2.py", "t3.py"}]  # 9 | 5 + 3 + 2
    assert {(t["scope"], t["name"]) for t in plan["muted_tests"]} == {
        ("t1.py", "test_wobbly"),
        ("t1", "test_wobbly"),
    }
    assert {t["name"] for t in plan["skipped_tests"]} == {"test_hangs"}

    split = await api.post(f"{PLAN}/filter_tests", json={"files": [{"path": "t0.py"},
                                                                   {"path": "t1.py"}]})  # fmt: skip
    assert split.json() == {"tests": [{"path": "t1.py"}]}
    assert (await api.post(PLAN.replace("test_plan", "test_plan_metadata"), json={})).json() == {}
    cached = await api.get(PLAN, params={"identifier": "b1/step", "job_retry_count": "0"})
    assert cached.status_code == 404
    assert cached.json()["message"].startswith("no cached test plan")


async def test_a_suites_token_plans_its_own_suite_only_and_errors_carry_a_message(
    store: sa.Engine, tmp_path: Path, catalog: Catalog
) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        read_tokens=[SecretStr("reader")],
        test_suites={"s": SecretStr("suite-s"), "other": SecretStr("suite-other")},
    )
    async with serving(settings, catalog) as api:
        mine = await api.post(PLAN, json={}, headers={"authorization": "Bearer suite-s"})
        assert mine.status_code == 200
        theirs = await api.post(PLAN, json={}, headers={"authorization": "Bearer suite-other"})
        assert theirs.status_code == 403
        assert theirs.json()["message"] == "this token belongs to suite 'other', not 's'"
        nobody = await api.post(PLAN, json={})
        assert (nobody.status_code, nobody.json()["error"]) == (401, "unauthorized")
        bad = await api.post(PLAN, json={"parallelism": -1},
                             headers={"authorization": "Bearer reader"})  # fmt: skip
        assert bad.status_code == 422
        assert "parallelism" in bad.json()["message"]
