"""A broker stopped in the middle of a stream of webhooks, then started again: every
acknowledged event ends up in Kafka, and each key's events in the order acknowledged.

This test runs its own broker (project code, a free port, the session's jar cache), so
stopping it disturbs nobody; the producer it outlives is the one aiokafka #1017 wedges.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

import orjson

from services.common.topics import Topics, create_topics, topic_specs
from services.localkafka.broker import LocalBroker
from services.localkafka.config import BrokerPaths
from tests.integration.receiver.conftest import read_all
from tests.ports import free_port
from tests.unit.receiver.clients import Receiver, make_settings, running
from tests.unit.receiver.payloads import build_webhook

SLUGS = ("payments-api", "ledger", "checkout")


async def _spool_empty(receiver: Receiver, timeout_s: float) -> None:
    ready: object = None
    try:
        async with asyncio.timeout(timeout_s):
            while (ready := (await receiver.client.get("/readyz")).json())["spool"]["records"]:  # noqa: ASYNC110 - polls over HTTP
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"the spool was not drained in {timeout_s}s: {ready}") from None


async def test_broker_restart_during_a_stream_loses_no_acknowledged_event(tmp_path: Path) -> None:
    shared = LocalBroker(BrokerPaths.from_env())
    await asyncio.to_thread(shared.resolve_jars)  # cached: no download after the first run
    broker = LocalBroker(
        BrokerPaths(tmp_path / "kafka-home", jars_dir=shared.paths.jars), port=free_port(pairs=2)
    )
    await asyncio.to_thread(broker.up)
    try:
        topics = Topics(prefix="restart.")
        await create_topics(broker.bootstrap, topic_specs(topics), partitions=3)
        settings = make_settings(
            broker.bootstrap, topics, tmp_path / "spool", produce_deadline_s=1.0
        )
        async with running(settings) as receiver:
            acked: list[tuple[str, str, int]] = []  # event_id, key, build number
            paths: Counter[str] = Counter()
            stop = asyncio.Event()
            progress = asyncio.Condition()

            async def until(count: int, timeout_s: float) -> None:
                async with asyncio.timeout(timeout_s), progress:
                    await progress.wait_for(lambda: len(acked) >= count)

            async def stream() -> None:
                n = 0
                while not stop.is_set():
                    payload = build_webhook(build_id=f"build-{n:05d}", number=n)
                    payload["pipeline"]["slug"] = SLUGS[n % len(SLUGS)]
                    response = await receiver.post(payload)
                    assert response.status_code == 202, response.text
                    paths[response.json()["delivery"]] += 1
                    async with progress:
                        acked.append((response.json()["event_id"], SLUGS[n % len(SLUGS)], n))
                        progress.notify_all()
                    n += 1
                    await asyncio.sleep(0.02)

            sender = asyncio.create_task(stream())
            await until(30, 60)  # a healthy stream
            await asyncio.to_thread(broker.down)
            await until(len(acked) + 30, 60)  # accepted while the broker is down
            await asyncio.to_thread(broker.up)
            await until(len(acked) + 30, 120)  # accepted after the restart
            stop.set()
            await sender
            await _spool_empty(receiver, 120)
            metrics = (await receiver.client.get("/metrics")).text

        records = await read_all(broker.bootstrap, topics, len(acked), timeout_s=60)
    finally:
        await asyncio.to_thread(broker.down)

    assert paths["spool"] > 0, "the outage must have sent events to the spool"
    assert "kitestream_receiver_spool_drained_total" in metrics
    delivered = [orjson.loads(r.value) for r in records]
    missing = {e for e, _, _ in acked} - {v["event_id"] for v in delivered}
    assert not missing, f"{len(missing)} acknowledged events never reached Kafka"
    first_seen: dict[str, list[int]] = defaultdict(list)
    for record, value in zip(records, delivered, strict=True):
        number = value["build"]["number"]
        key = record.key.decode() if record.key else ""
        if number not in first_seen[key]:
            first_seen[key].append(number)
    for slug in SLUGS:
        assert first_seen[slug] == sorted(first_seen[slug]), f"{slug} out of order"
