"""Durability while Kafka is away: spool, bound, drain in order, survive SIGKILL."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import orjson

from services.common.topics import Topics
from tests.integration.receiver.conftest import count_messages, read_all
from tests.integration.receiver_process import receiver_process_env, start_receiver, wait_until_up
from tests.ports import free_port
from tests.unit.receiver.clients import TOKEN, make_settings, running, signed_webhook
from tests.unit.receiver.payloads import build_webhook


def numbered(n: int) -> dict[str, object]:
    return build_webhook(build_id=f"build-{n:04d}", number=n)


async def test_events_spooled_while_kafka_is_away_are_drained_in_order(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    away = make_settings(f"127.0.0.1:{free_port()}", kafka_topics, spool)
    async with running(away) as receiver:
        for n in range(25):
            response = await receiver.post(numbered(n))
            assert response.status_code == 202, response.text
            assert response.json()["delivery"] == "spool"
        ready = (await receiver.client.get("/readyz")).json()
        assert ready["kafka"] == "down"
        assert ready["spool"]["records"] == 25
        assert ready["spool"]["oldest_age_s"] >= 0
        metrics = (await receiver.client.get("/metrics")).text
        assert 'kitestream_receiver_messages_total{path="spool"} 25.0' in metrics
        assert "kitestream_receiver_spool_records 25.0" in metrics
    assert await count_messages(kafka_bootstrap, kafka_topics) == 0

    async with running(make_settings(kafka_bootstrap, kafka_topics, spool)) as receiver:
        records = await read_all(kafka_bootstrap, kafka_topics, 25)
        numbers = [orjson.loads(r.value)["build"]["number"] for r in records]
        assert numbers == list(range(25))  # one key, one partition: acknowledged order
        new = await receiver.post(numbered(25))
        assert new.json()["delivery"] == "kafka"
        ready = (await receiver.client.get("/readyz")).json()
        assert ready["spool"]["records"] == 0


async def test_a_full_spool_answers_503_and_keeps_what_it_acknowledged(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    away = make_settings(f"127.0.0.1:{free_port()}", kafka_topics, spool, spool_max_bytes=60_000)
    accepted: list[str] = []
    async with running(away) as receiver:
        for n in range(40):
            response = await receiver.post(numbered(n))
            if response.status_code == 503:
                assert response.json()["error"] == "unavailable"
                break
            assert response.status_code == 202
            accepted.append(response.json()["event_id"])
        else:
            raise AssertionError("the spool never filled up")
        assert (await receiver.client.get("/readyz")).status_code == 503
        assert (
            "kitestream_receiver_spool_full_total 1.0"
            in (await receiver.client.get("/metrics")).text
        )
    assert 3 <= len(accepted) < 40

    async with running(make_settings(kafka_bootstrap, kafka_topics, spool)):
        records = await read_all(kafka_bootstrap, kafka_topics, len(accepted))
    assert [orjson.loads(r.value)["event_id"] for r in records] == accepted


async def test_a_receiver_killed_with_sigkill_drains_its_spool_after_a_restart(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "receiver.log"
    away = f"127.0.0.1:{free_port()}"  # Kafka away
    credentials = {"KITESTREAM_BUILDKITE_TOKENS": TOKEN}
    env = receiver_process_env(away, kafka_topics, tmp_path / "spool", credentials)
    url = f"http://127.0.0.1:{port}"
    accepted: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        proc = start_receiver(env, port, log)
        try:
            await asyncio.to_thread(wait_until_up, url, proc, log, "/healthz")
            for n in range(20):
                body, headers = signed_webhook(numbered(n))
                response = await client.post("/webhooks/buildkite", content=body, headers=headers)
                assert response.status_code == 202, response.text
                assert response.json()["delivery"] == "spool"
                accepted.append(response.json()["event_id"])
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL

        proc = start_receiver({**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, port, log)
        try:
            await asyncio.to_thread(wait_until_up, url, proc, log, "/healthz")
            records = await read_all(kafka_bootstrap, kafka_topics, len(accepted))
            assert [orjson.loads(r.value)["event_id"] for r in records] == accepted
            assert (await client.get("/readyz")).json()["spool"]["records"] == 0
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
