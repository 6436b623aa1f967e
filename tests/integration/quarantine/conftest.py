"""A whole quarantine stack for runners: the receiver (``receiver_url``), the store
reading the test's topics, and ``kitestream api`` as a process with write tokens."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.topics import Topics
from services.store.prune import Retention
from services.store.service import Store
from tests.integration.api.process import api_process
from tests.ports import free_port
from tests.unit.api.rows import store_engine
from tests.unit.receiver.clients import SUITES

WRITE_TOKEN = "write-token-3c9a"
READ_TOKEN = "read-token-51de"


@dataclass(frozen=True)
class Stack:
    api: str  # the query API's base URL
    receiver: str  # the receiver's base URL
    env: dict[str, str]  # the API's environment (database, Kafka, tokens)

    def change(self, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.api}/api/v1/quarantine",
            json=body,
            headers={"authorization": f"Bearer {WRITE_TOKEN}"},
            timeout=30,
        )

    async def wait_listed(self, count: int, suite: str = "payments-pytest") -> list[Any]:
        """The suite's quarantine list once it holds ``count`` tests (the store has read
        the changes back)."""
        deadline = time.monotonic() + 30
        while True:
            answer = await asyncio.to_thread(
                httpx.get,
                f"{self.api}/api/v1/quarantine",
                params={"suite": suite},
                headers={"authorization": f"Bearer {READ_TOKEN}"},
            )
            items: list[Any] = answer.json()["items"]
            if len(items) == count:
                return items
            assert time.monotonic() < deadline, items
            await asyncio.sleep(0.2)


@pytest.fixture
async def stack(
    tmp_path: Path, kafka_bootstrap: str, kafka_topics: Topics, receiver_url: str
) -> AsyncIterator[Stack]:
    database = tmp_path / "store.db"
    engine = store_engine(str(database))
    store = Store(engine, kafka_bootstrap, kafka_topics, group_id=f"{kafka_topics.prefix}store",
                  retention=Retention(0, 0, 0))  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    env = {
        **os.environ,
        "KITESTREAM_DATABASE_URL": f"sqlite:///{database}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_READ_TOKENS": READ_TOKEN,
        "KITESTREAM_WRITE_TOKENS": WRITE_TOKEN,
        "KITESTREAM_TEST_SUITES": ",".join(f"{s}={t}" for s, t in SUITES.items()),
        "KITESTREAM_LOG_FORMAT": "json",
    }
    try:
        with api_process(env, free_port(), tmp_path / "api.log") as api:
            yield Stack(api, receiver_url, env)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        engine.dispose()
