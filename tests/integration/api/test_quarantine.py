"""Quarantine changes through the query API: write tokens, published on
``tests.quarantine`` (real Kafka), read back by the store, listed by the API; a
suite's own token reads its own suite only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from schemas.quarantine import QuarantineChange
from services.api.settings import ApiSettings
from services.catalog.catalog import Catalog
from services.common.topics import Topic, Topics
from services.store.prune import Retention
from services.store.service import Store
from tests.unit.api.conftest import serving
from tests.unit.api.rows import add_test, store_engine

WRITE = "write-token-7d1e"
READ = "read-token-4b2a"
SUITE_TOKEN = "suite-token-payments"
KEY = "payments-pytest/tests/test_pay.py/test_refund"
WRITER = {"authorization": f"Bearer {WRITE}"}
READER = {"authorization": f"Bearer {READ}"}


@pytest.fixture
async def stack(
    tmp_path: Path, kafka_bootstrap: str, kafka_topics: Topics
) -> AsyncIterator[tuple[httpx.AsyncClient, sa.Engine]]:
    """The API (write tokens, Kafka) and the store reading the same topics, in-process."""
    engine = store_engine(str(tmp_path / "store.db"))
    with engine.begin() as conn:
        add_test(conn, KEY, suite="payments-pytest", scope="tests/test_pay.py", name="test_refund")
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        read_tokens=[SecretStr(READ)],
        write_tokens=[SecretStr(WRITE)],
        test_suites={"payments-pytest": SecretStr(SUITE_TOKEN)},
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=kafka_topics.prefix,
    )
    store = Store(engine, kafka_bootstrap, kafka_topics, group_id=f"{kafka_topics.prefix}store",
                  retention=Retention(0, 0, 0))  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        async with serving(settings, Catalog()) as api:
            yield api, engine
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        engine.dispose()


async def _listed(api: httpx.AsyncClient, want: int, **params: str) -> list[dict[str, Any]]:
    """The quarantine list once it holds ``want`` tests (the store reads changes back)."""
    deadline = time.monotonic() + 30
    while True:
        answer = await api.get("/api/v1/quarantine", params=params, headers=READER)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        if len(items) == want or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.2)


async def _history(api: httpx.AsyncClient, want: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        answer = await api.get(f"/api/v1/tests/{KEY}/quarantine", headers=READER)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if len(body["history"]) >= want or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


async def test_a_mute_is_published_stored_listed_and_an_unmute_takes_it_back(
    stack: tuple[httpx.AsyncClient, sa.Engine], kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    api, _engine = stack
    until = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    mute = {"key": KEY, "state": "muted", "reason": "flaky since the ledger upgrade",
            "by": "alice", "until": until.isoformat()}  # fmt: skip
    answer = await api.post("/api/v1/quarantine", json=mute, headers=WRITER)
    assert answer.status_code == 202, answer.text
    change = answer.json()["change"]
    assert (change["key"], change["state"], change["set_by"]) == (KEY, "muted", "alice")
    assert (change["suite"], change["scope"], change["name"]) == (
        "payments-pytest",
        "tests/test_pay.py",
        "test_refund",
    )

    [listed] = await _listed(api, 1)
    assert (listed["test_key"], listed["state"], listed["reason"]) == (
        KEY,
        "muted",
        "flaky since the ledger upgrade",
    )
    assert listed["until"] == until.isoformat().replace("+00:00", "Z")
    # as of after the expiry, nothing is muted
    later = (until + timedelta(seconds=1)).isoformat()
    assert await _listed(api, 0, at=later) == []

    unmute = {"key": KEY, "state": "active", "reason": "fixed in #42", "by": "bob"}
    assert (await api.post("/api/v1/quarantine", json=unmute, headers=WRITER)).status_code == 202
    assert await _listed(api, 0) == []
    body = await _history(api, 2)
    assert body["state"] == "active"
    assert [(c["state"], c["set_by"]) for c in body["history"]] == [
        ("active", "bob"),
        ("muted", "alice"),
    ]

    # unmuting again changes nothing and publishes nothing
    again = await api.post("/api/v1/quarantine", json=unmute, headers=WRITER)
    assert (again.status_code, again.json()["changed"]) == (200, False)

    # on the topic: two changes keyed by the test key, in order
    consumer = AIOKafkaConsumer(
        kafka_topics.name(Topic.QUARANTINE),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        records = await consumer.getmany(timeout_ms=5000)
        seen = [r for batch in records.values() for r in batch]
    finally:
        await consumer.stop()
    assert [r.key for r in seen] == [KEY.encode(), KEY.encode()]
    states = [QuarantineChange.model_validate_json(r.value or b"").state for r in seen]
    assert states == ["muted", "active"]


async def test_a_test_named_by_suite_scope_and_name_need_not_be_in_the_store(
    stack: tuple[httpx.AsyncClient, sa.Engine],
) -> None:
    api, _engine = stack
    skip = {"suite": "web-jest", "scope": "cart", "name": "adds an item", "state": "skipped",
            "reason": "hangs", "by": "carol"}  # fmt: skip
    answer = await api.post("/api/v1/quarantine", json=skip, headers=WRITER)
    assert answer.status_code == 202, answer.text
    assert answer.json()["change"]["key"] == "web-jest/cart/adds an item"
    [listed] = await _listed(api, 1, suite="web-jest")
    assert listed["state"] == "skipped"


async def test_a_suite_token_reads_its_own_suite_only_and_cannot_write(
    stack: tuple[httpx.AsyncClient, sa.Engine],
) -> None:
    api, _engine = stack
    for suite in ("payments-pytest", "web-jest"):
        body = {"suite": suite, "scope": "s", "name": "t", "state": "muted", "reason": "r",
                "by": "dave"}  # fmt: skip
        assert (await api.post("/api/v1/quarantine", json=body, headers=WRITER)).status_code == 202
    await _listed(api, 2)
    suite_reader = {"authorization": f"Bearer {SUITE_TOKEN}"}
    mine = await api.get("/api/v1/quarantine", params={"suite": "web-jest"}, headers=suite_reader)
    assert [i["suite"] for i in mine.json()["items"]] == ["payments-pytest"]
    # a suite token reads nothing else, and writes nothing
    assert (await api.get("/api/v1/alerts", headers=suite_reader)).status_code == 401
    body = {"key": KEY, "state": "muted", "reason": "r", "by": "eve"}
    assert (
        await api.post("/api/v1/quarantine", json=body, headers=suite_reader)
    ).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"key": KEY, "state": "muted", "by": "a"}, 422, "say why"),
        ({"key": KEY, "state": "frozen", "reason": "r", "by": "a"}, 422, "state"),
        ({"key": KEY, "state": "muted", "reason": "r"}, 422, "by"),
        ({"key": "nope/x/y", "state": "muted", "reason": "r", "by": "a"}, 404, "no test"),
        ({"state": "muted", "reason": "r", "by": "a"}, 422, "name the test"),
        ({"key": KEY, "state": "muted", "reason": "r", "by": "a", "until": "2020-01-01T00:00Z"},
         422, "not in the future"),
        ({"key": KEY, "state": "muted", "reason": "r", "by": "a", "until": "2030-01-01T00:00"},
         422, "timezone"),
        ({"key": KEY, "state": "muted", "reason": "r", "by": "a", "extra": 1}, 422, "extra"),
        ([1, 2], 400, "JSON object"),
    ],
)  # fmt: skip
async def test_a_bad_change_is_refused_with_a_clear_4xx(
    stack: tuple[httpx.AsyncClient, sa.Engine], body: Any, status: int, error: str
) -> None:
    api, _engine = stack
    answer = await api.post("/api/v1/quarantine", json=body, headers=WRITER)
    assert answer.status_code == status, answer.text
    assert error in answer.json()["detail"]


async def test_writes_need_a_write_token_even_on_loopback(
    stack: tuple[httpx.AsyncClient, sa.Engine],
) -> None:
    api, _engine = stack
    body = {"key": KEY, "state": "muted", "reason": "r", "by": "a"}
    for headers in ({}, READER, {"authorization": "Bearer wrong"}):
        answer = await api.post("/api/v1/quarantine", json=body, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"] == "unauthorized"
    raw = await api.post("/api/v1/quarantine", content=b"{not json", headers=WRITER)
    assert raw.status_code == 400
    huge = await api.post("/api/v1/quarantine", content=b" " * 20_000, headers=WRITER)
    assert huge.status_code == 413


async def test_a_test_named_without_its_file_gets_the_key_the_store_knows_it_by(
    stack: tuple[httpx.AsyncClient, sa.Engine],
) -> None:
    api, engine = stack
    with_file = "payments-pytest/tests/test_pay.py/test_filed/tests/test_pay.py"
    with engine.begin() as conn:
        add_test(conn, with_file, scope="tests/test_pay.py", name="test_filed",
                 file="tests/test_pay.py")  # fmt: skip
    body = {"suite": "payments-pytest", "scope": "tests/test_pay.py", "name": "test_filed",
            "state": "muted", "reason": "r", "by": "a"}  # fmt: skip
    answer = await api.post("/api/v1/quarantine", json=body, headers=WRITER)
    assert answer.status_code == 202, answer.text
    assert answer.json()["change"]["key"] == with_file


async def test_a_change_named_without_a_file_follows_the_key_it_was_quarantined_under(
    stack: tuple[httpx.AsyncClient, sa.Engine],
) -> None:
    api, engine = stack
    body = {"suite": "payments-pytest", "scope": "tests/test_pay.py", "name": "test_late",
            "state": "muted", "reason": "r", "by": "a"}  # fmt: skip
    first = await api.post("/api/v1/quarantine", json=body, headers=WRITER)
    assert first.json()["change"]["key"] == "payments-pytest/tests/test_pay.py/test_late"
    await _listed(api, 1)
    with engine.begin() as conn:  # then its results arrive, with a file
        add_test(conn, "payments-pytest/tests/test_pay.py/test_late/tests/test_pay.py",
                 scope="tests/test_pay.py", name="test_late", file="tests/test_pay.py")  # fmt: skip
    unmute = await api.post("/api/v1/quarantine", json=body | {"state": "active"},
                            headers=WRITER)  # fmt: skip
    assert unmute.status_code == 202, unmute.text
    assert unmute.json()["change"]["key"] == "payments-pytest/tests/test_pay.py/test_late"
    assert await _listed(api, 0) == []
