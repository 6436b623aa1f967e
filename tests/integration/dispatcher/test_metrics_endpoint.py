"""`kitestream dispatcher` as a process serves its metrics on KITESTREAM_METRICS_PORT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.topics import Topic, Topics
from tests.integration.dispatcher.kafka_helpers import process_env, produce, start_dispatcher
from tests.integration.dispatcher.recorder import RecordingServer
from tests.ports import free_port
from tests.unit.dispatcher.factories import make_alert

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((f"kitestream_dispatcher_{name}", tuple(sorted(labels.items()))))


async def scrape_until(
    url: str, wanted: Callable[[Samples], bool], timeout_s: float = 60
) -> tuple[str, Samples]:
    """Scrape ``url`` until its samples are ``wanted``; the exposition text and samples."""
    async with httpx.AsyncClient() as client, asyncio.timeout(timeout_s):
        while True:
            try:
                response = await client.get(url)
            except httpx.TransportError:
                pass  # not listening yet
            else:
                samples = parse(response.text) if response.status_code == 200 else {}
                if samples and wanted(samples):
                    return response.text, samples
            await asyncio.sleep(0.1)


async def test_a_dispatcher_process_serves_its_delivery_metrics_over_http(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    alerts = [make_alert(n, service=f"svc-{n}") for n in range(3)]
    port = free_port()
    with RecordingServer() as server:
        hook = {
            "type": "webhook",
            "url": server.url(),
            "secret_env": "HOOK_SECRET",
            "allow_private": True,
        }
        env = process_env(
            kafka_bootstrap,
            kafka_topics,
            {"sinks": {"hook": hook, "log": {"type": "log"}}, "routes": [{"to": ["hook", "log"]}]},
            tmp_path,
            group="metrics",
            metrics_port=port,
            HOOK_SECRET="s3cret",
        )
        await produce(
            kafka_bootstrap,
            kafka_topics.name(Topic.ALERTS),
            [("payments-api", b"not an alert"), *((a.service, a.to_json()) for a in alerts)],
        )
        log = tmp_path / "dispatcher.log"
        process = start_dispatcher(env, log)
        try:
            text, samples = await scrape_until(
                f"http://127.0.0.1:{port}/metrics",
                lambda got: (
                    value(got, "deliveries_total", sink="hook", outcome="delivered") == 3
                    and value(got, "deliveries_total", sink="log", outcome="delivered") == 3
                    and value(got, "dead_letters_total", reason="invalid_alert") == 1
                    and value(got, "pending_alerts", sink="hook") == 0  # all recorded
                ),
            )
            async with httpx.AsyncClient() as client:  # 127.0.0.1 only by default
                with pytest.raises(httpx.ConnectError):
                    await client.get(f"http://127.0.0.2:{port}/metrics")
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 30) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert value(samples, "alerts_consumed_total") == 4
    assert value(samples, "deliveries_total", sink="hook", outcome="delivered") == 3
    assert value(samples, "deliveries_total", sink="log", outcome="delivered") == 3
    assert value(samples, "deliveries_total", sink="hook", outcome="dead_lettered") == 0
    assert value(samples, "attempts_total", sink="hook", status_class="2xx") == 3
    assert value(samples, "attempts_total", sink="log", status_class="none") == 3
    assert value(samples, "delivery_seconds_count", sink="hook") == 3
    assert value(samples, "circuit_state", sink="hook") == 0
    # Labels name sinks, never alerts or destinations.
    assert not any(a.alert_id in text for a in alerts)
    assert "127.0.0.1" not in text
    assert sorted(r.headers["idempotency-key"] for r in server.received) == sorted(
        a.alert_id for a in alerts
    )
