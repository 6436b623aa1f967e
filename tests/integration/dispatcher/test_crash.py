"""SIGKILL the dispatcher process mid-stream: after a restart every alert is delivered,
and only the one in flight at the kill is sent again, with the same idempotency key."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path

from services.common.topics import Topic, Topics
from tests.integration.dispatcher.kafka_helpers import process_env, produce, start_dispatcher
from tests.integration.dispatcher.recorder import Received, RecordingServer, Reply
from tests.unit.dispatcher.factories import make_alert

ALERTS = 30
KILL_AT = 12  # the request, counting from 0, during which the process is killed


async def test_sigkill_mid_stream_then_restart_delivers_all_and_resends_only_in_flight(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    alerts = [make_alert(n, service=f"svc-{n % 7}") for n in range(ALERTS)]
    process: subprocess.Popen[bytes] | None = None

    def answer(request: Received, n: int) -> Reply:
        if n == KILL_AT and process is not None:
            process.kill()  # SIGKILL: the request arrived, its answer never will
            process.wait()
        return Reply(200, b"ok", delay_s=0.02)

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
            before_restart = len(server.received)

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

    received = server.received
    counts = Counter(r.headers["idempotency-key"] for r in received)
    assert set(counts) == wanted
    resent = [key for key, n in counts.items() if n > 1]
    # At most what was in flight at the kill is sent again (whether it is depends on
    # whether the kill landed before or after the delivery was recorded), and then
    # with the same idempotency key and body.
    in_flight = {r.headers["idempotency-key"] for r in received[KILL_AT:before_restart]}
    assert set(resent) <= in_flight
    for key in resent:
        assert counts[key] == 2
        assert len({r.body for r in received if r.headers["idempotency-key"] == key}) == 1
    assert len(received) == ALERTS + len(resent)
