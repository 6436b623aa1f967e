"""SIGKILL ``kitestream store`` (a real process) mid-stream, twice, and restart it: the
tables end up identical to those of a store that was never interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from services.common.topics import Topics
from services.store import migrate
from services.store.database import make_engine
from services.store.prune import Retention
from services.store.service import Store
from tests.integration.store.tables_io import produce, snapshot, stored_offsets, wait_for_offsets
from tests.store_stream import Message, result, stream

RESULTS = 6000


def _big_stream() -> list[Message]:
    """The known stream plus thousands of executions over 40 tests (durations exact in
    binary, so that sums do not depend on how records were batched)."""
    messages = stream()
    for n in range(RESULTS):
        outcome = "failed" if n % 7 == 0 else "skipped" if n % 11 == 0 else "passed"
        execution = result(
            1000 + n,
            f"test_{n % 40}",
            outcome,
            n / 100,
            attempt=1 + (n % 13 == 0),
            build_id=f"b{n // 400}",
            duration_s=0.125 * (1 + n % 9),
            suite=f"suite-{n % 3}",
        )
        messages.append(("tests.results", f"suite-{n % 3}".encode(), execution))
    return messages


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services", "store"], env=env, stdout=out, stderr=out
        )


async def _kill_when(
    engine: Engine, process: subprocess.Popen[bytes], past: int, total: int
) -> int:
    """SIGKILL ``process`` once the store holds more than ``past`` records; how many it held."""
    async with asyncio.timeout(120):
        while (done := await asyncio.to_thread(stored_offsets, engine)) <= past:
            assert process.poll() is None, "the store exited on its own"
            await asyncio.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert done < total, "the store finished before it could be killed; grow the stream"
    return done


async def test_sigkill_mid_stream_and_restart_leaves_no_row_missing_or_doubled(
    engine: Engine,
    database_url: str,
    kafka_bootstrap: str,
    kafka_topics: Topics,
    tmp_path: Path,
) -> None:
    total = await produce(kafka_bootstrap, kafka_topics, _big_stream())
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KITESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "KITESTREAM_DATABASE_URL": database_url,
        "KITESTREAM_STORE_GROUP_ID": f"{kafka_topics.prefix}store",
        "KITESTREAM_STORE_MAX_BATCH": "150",
        "KITESTREAM_STORE_RESULTS_DAYS": "0",
        "KITESTREAM_STORE_ROLLUP_DAYS": "0",
        "KITESTREAM_STORE_EVENTS_DAYS": "0",
        "KITESTREAM_METRICS_PORT": "0",
        "KITESTREAM_LOG_FORMAT": "text",
    }
    log = tmp_path / "store.log"
    first = await _kill_when(engine, _start(env, log), 0, total)
    second = await _kill_when(engine, _start(env, log), first, total)
    assert 0 < first < second < total
    last = _start(env, log)
    try:
        await wait_for_offsets(engine, total, timeout_s=120)
    finally:
        last.send_signal(signal.SIGTERM)
        assert last.wait(30) == 0
    assert "Traceback" not in log.read_text()

    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    migrate.upgrade(reference)
    store = Store(
        reference,
        kafka_bootstrap,
        kafka_topics,
        group_id=f"{kafka_topics.prefix}reference",
        retention=Retention(0, 0, 0),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        await wait_for_offsets(reference, total, timeout_s=120)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    expected = snapshot(reference)
    reference.dispose()
    got = snapshot(engine)
    assert sum(day["runs"] for day in got["test_days"]) == RESULTS + 6
    for table, rows in expected.items():
        assert got[table] == rows, table
