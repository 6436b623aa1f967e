"""SIGKILL the dispatcher process mid-stream: after a restart every alert is delivered,
and only what was in flight at the kill (at most the sink's window of concurrent
deliveries) is sent again, with the same idempotency key."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from services.common.topics import Topic, Topics
from services.dispatcher.records import DeliveryRecord
from services.dispatcher.service import DELIVERED_TOPIC
from tests.integration.dispatcher.kafka_helpers import process_env, produce, start_dispatcher
from tests.integration.dispatcher.recorder import Received, RecordingServer, Reply
from tests.kafka_io import message_counts, read_topic
from tests.unit.dispatcher.factories import make_alert

ALERTS = 30
KILL_AT = 12  # the request, counting from 0, during which the process is killed
WINDOW = 4  # deliveries in flight at once per sink (KITESTREAM_DISPATCHER_SINK_CONCURRENCY)


def whole(received: list[Received]) -> list[Received]:
    """The requests that arrived whole: the kill can cut one off mid-body, which no sink
    would take as a delivery (its body is shorter than its Content-Length)."""
    return [r for r in received if len(r.body) == int(r.headers.get("content-length", "0"))]


async def test_sigkill_mid_stream_then_restart_delivers_all_and_resends_only_in_flight(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    alerts = [make_alert(n, service=f"svc-{n % 7}") for n in range(ALERTS)]
    process: subprocess.Popen[bytes] | None = None
    lock, active, peak = threading.Lock(), [0], [0]

    def answer(request: Received, n: int) -> Reply:
        if n == KILL_AT and process is not None:
            process.kill()  # SIGKILL: the request arrived, its answer never will
            process.wait()
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.1)  # slow enough for several deliveries to overlap
        with lock:
            active[0] -= 1
        return Reply(200, b"ok")

    with RecordingServer(answer) as server:
        hook = {
            "type": "webhook",
            "url": server.url(),
            "secret_env": "HOOK_SECRET",
            "allow_private": True,
        }
        env = process_env(
            kafka_bootstrap,
            kafka_topics,
            {"sinks": {"hook": hook}, "routes": [{"to": "hook"}]},
            tmp_path,
            group="crash",
            HOOK_SECRET="s3cret",
            KITESTREAM_DISPATCHER_SINK_CONCURRENCY=str(WINDOW),
        )
        log = tmp_path / "dispatcher.log"
        await produce(
            kafka_bootstrap,
            kafka_topics.name(Topic.ALERTS),
            [(a.service, a.to_json()) for a in alerts],
        )
        process = start_dispatcher(env, log)
        try:
            await server.wait_for(lambda got: len(got) > KILL_AT, timeout_s=60)
            await asyncio.to_thread(process.wait, 30)
            assert process.returncode == -signal.SIGKILL
            await asyncio.sleep(0.5)  # requests and records the dead process had sent land
            sent_before = {r.headers["idempotency-key"] for r in whole(server.received)}
            records_topic = kafka_topics.internal(DELIVERED_TOPIC)
            count = (await message_counts(kafka_bootstrap, [records_topic]))[records_topic]
            recorded = {
                DeliveryRecord.model_validate_json(value or b"").alert_id
                for _, value in await read_topic(kafka_bootstrap, records_topic, count)
            }

            process = start_dispatcher(env, log)
            wanted = {a.alert_id for a in alerts}
            await server.wait_for(
                lambda got: {r.headers["idempotency-key"] for r in got} >= wanted, timeout_s=60
            )
            process.send_signal(signal.SIGTERM)  # its requests are all in once it exits
            assert await asyncio.to_thread(process.wait, 30) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    received = whole(server.received)
    counts = Counter(r.headers["idempotency-key"] for r in received)
    assert set(counts) == wanted
    resent = [key for key, n in counts.items() if n > 1]
    assert peak[0] >= 2  # deliveries overlapped before the kill: the window was in use
    # In flight at the kill: sent, and no delivery record yet (the kill can land before
    # or after a delivery's record). That, at most the window, is what is sent again,
    # and then with the same idempotency key and body; nothing recorded is.
    in_flight = sent_before - recorded
    assert 0 < len(in_flight) <= WINDOW
    assert set(resent) == in_flight
    for key in resent:
        assert counts[key] == 2
        assert len({r.body for r in received if r.headers["idempotency-key"] == key}) == 1
    assert len(received) == ALERTS + len(resent)
