"""``kitestream receiver --workers N``: one port, a spool per worker, and nothing a killed
worker acknowledged is lost, on the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from services.common.topics import Topics
from tests.integration.receiver.conftest import count_messages, read_all
from tests.integration.receiver_process import receiver_process_env, start_receiver, wait_until_up
from tests.ports import free_port
from tests.unit.receiver.clients import TOKEN, signed_webhook
from tests.unit.receiver.payloads import build_webhook


def _owner(slot: Path) -> int:
    """The pid written into the slot's LOCK by the worker that holds it (0 while the
    worker that just took it has not written it yet)."""
    written = (slot / "LOCK").read_text().split()
    return int(written[0]) if written else 0


def _started(slots: list[Path]) -> Callable[[], bool]:
    """Whether every slot is held by a worker that has written its pid there (a worker
    takes the LOCK first and writes its pid after)."""
    return lambda: all((s / "LOCK").exists() and _owner(s) for s in slots)


@asynccontextmanager
async def _paused(worker: int, supervisor: int) -> AsyncIterator[None]:
    """``worker`` stopped (SIGSTOP), and its supervisor with it: uvicorn's supervisor kills
    a worker that does not answer its health check within 5 s, as a stopped one cannot.
    The worker goes on first, so that it answers a check sent before the pause."""
    os.kill(supervisor, signal.SIGSTOP)
    os.kill(worker, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(worker, signal.SIGCONT)
        await asyncio.sleep(0.5)
        os.kill(supervisor, signal.SIGCONT)


def _spooled_bytes(slot: Path) -> int:
    return sum(p.stat().st_size for p in slot.glob("*.seg"))


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


async def _post_many(url: str, first: int, count: int, delivery: str = "spool") -> list[str]:
    """``count`` signed webhooks, each on a new connection (so that both workers get
    some); the event ids of the 202s, all of which must say ``delivery``."""
    accepted = []
    for n in range(first, first + count):
        body, headers = signed_webhook(build_webhook(build_id=f"build-{n:04d}", number=n))
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            response = await client.post("/webhooks/buildkite", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["delivery"] == delivery
        accepted.append(response.json()["event_id"])
    return accepted


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll until ``condition``; 60 s, as a worker took more than 30 s to start on a
    loaded CI run."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


async def test_a_killed_worker_loses_nothing_it_acknowledged(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "receiver.log"
    spool = tmp_path / "spool"
    slots = [spool / "0", spool / "1"]
    away = f"127.0.0.1:{free_port()}"  # Kafka away: every 202 is a record in a spool
    env = receiver_process_env(away, kafka_topics, spool, {"KITESTREAM_BUILDKITE_TOKENS": TOKEN})

    proc = start_receiver(env, port, log, "--workers", "2")
    try:
        await asyncio.to_thread(wait_until_up, url, proc, log, "/healthz")
        await asyncio.to_thread(_wait_for, _started(slots), "both workers start")
        owners = {_owner(s) for s in slots}
        assert len(owners) == 2, "one slot per worker"
        assert owners <= _children(proc.pid), "held by the supervisor's workers"
        accepted = await _post_many(url, 0, 30)
        with_records = [s for s in slots if _spooled_bytes(s) > 0]
        assert with_records, "the 202s said spool, so some slot holds records"
        victim = with_records[0]
        killed = _owner(victim)
        os.kill(killed, signal.SIGKILL)

        # The supervisor starts a worker in its place, which takes the same slot back.
        def replaced() -> bool:
            return (victim / "LOCK").exists() and _owner(victim) not in (killed, 0)

        await asyncio.to_thread(_wait_for, replaced, "a new worker holds the killed one's slot")
        await asyncio.to_thread(wait_until_up, url, proc, log, "/healthz")
        accepted += await _post_many(url, 30, 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    assert await count_messages(kafka_bootstrap, kafka_topics) == 0

    # One worker now, on the real broker: its own spool is the directory itself, and it
    # takes over both slots' records and sends them.
    env = {**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    proc = start_receiver(env, port, log, "--workers", "1")
    try:
        await asyncio.to_thread(wait_until_up, url, proc, log, "/readyz")
        records = await read_all(kafka_bootstrap, kafka_topics, len(accepted))
        assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(accepted)

        def drained() -> bool:
            spooled = httpx.get(f"{url}/readyz").json()["spool"]["records"]
            return spooled == 0 and all(_spooled_bytes(s) == 0 for s in slots)

        await asyncio.to_thread(_wait_for, drained, "every spool is drained")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()


def _sample(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text exposition (None when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


async def test_any_worker_answers_metrics_for_all_of_them(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    """Requests one worker answered are in the counts the other one serves, gauges are
    combined over the live workers, and a killed worker's counts stay."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "receiver.log"
    spool = tmp_path / "spool"
    slots = [spool / "0", spool / "1"]
    shared = tmp_path / "metrics"
    env = receiver_process_env(
        kafka_bootstrap,
        kafka_topics,
        spool,
        {"KITESTREAM_BUILDKITE_TOKENS": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(shared)},
    )
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"a stale file of an earlier run")
    accepted = "kitestream_receiver_requests_total"
    webhook = {"route": "/webhooks/buildkite", "method": "POST", "status": "202"}

    def scrape() -> str:
        return httpx.get(f"{url}/metrics", timeout=10).text

    def on_kafka() -> bool:
        """Every live worker has reached Kafka (``kafka_up`` is their minimum): one still
        connecting, as a worker can be for seconds on a loaded machine, spools."""
        return _sample(scrape(), "kitestream_receiver_kafka_up") == 1

    proc = start_receiver(env, port, log, "--workers", "2")
    try:
        await asyncio.to_thread(wait_until_up, url, proc, log, "/readyz")
        await asyncio.to_thread(_wait_for, _started(slots), "both workers start")
        await asyncio.to_thread(_wait_for, on_kafka, "both workers reach Kafka")
        first, second = (_owner(s) for s in slots)
        async with _paused(second, proc.pid):  # every connection goes to the first worker
            await _post_many(url, 0, 12, delivery="kafka")
        async with _paused(first, proc.pid):  # and the scrape to the second
            text = await asyncio.to_thread(scrape)
        assert _sample(text, accepted, **webhook) == 12
        assert _sample(text, "kitestream_receiver_kafka_up") == 1
        assert _sample(text, "kitestream_receiver_spool_records") == 0

        os.kill(first, signal.SIGKILL)  # its counts stay; a new worker takes its place
        await asyncio.to_thread(
            _wait_for, lambda: _owner(slots[0]) not in (first, 0), "a new worker starts"
        )
        await asyncio.to_thread(wait_until_up, url, proc, log, "/readyz")
        await asyncio.to_thread(_wait_for, on_kafka, "the new worker reaches Kafka")
        await _post_many(url, 12, 3, delivery="kafka")
        assert _sample(await asyncio.to_thread(scrape), accepted, **webhook) == 15
        assert not (shared / "counter_1.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
