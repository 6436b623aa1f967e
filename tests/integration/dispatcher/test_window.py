"""Several deliveries in flight per sink, against real HTTP servers and the real broker:
a slow sink is sent to concurrently (one alert per key at a time, in order), a failing
sink neither stalls it nor loses alerts, a retried alert does not hold up the others,
and a half-open circuit lets one probe through."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.deadletter import DeadLetter
from services.common.topics import Topic, Topics
from services.dispatcher.backoff import RetryPolicy
from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.records import DeliveryRecord
from services.dispatcher.service import DELIVERED_TOPIC
from services.dispatcher.worker import Delivered
from tests.integration.dispatcher.harness import make_sink
from tests.integration.dispatcher.kafka_helpers import (
    committed_offsets,
    dispatching,
    produce,
    settings_for,
)
from tests.integration.dispatcher.recorder import Received, RecordingServer, Reply
from tests.kafka_io import read_topic
from tests.unit.dispatcher.factories import make_alert, make_job
from tests.unit.dispatcher.workers import running_worker

ENV = {"SECRET": "s3cret"}
HOOK = {"type": "webhook", "url_env": "URL", "secret_env": "SECRET", "allow_private": True}


def webhook(url: str) -> dict[str, Any]:
    return {"type": "webhook", "url": url, "secret_env": "SECRET", "allow_private": True}


class SlowSink:
    """Answers 200 after ``delay_s``, and notes how many requests it held at once,
    overall and per alert service (the alerts' Kafka key here), and how many arrived
    while it held another."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._active: Counter[str] = Counter()
        self.peak = 0
        self.peak_per_key = 0
        self.overlapped = 0

    def __call__(self, request: Received, n: int) -> Reply:
        key = str(request.json()["service"])
        with self._lock:
            self.overlapped += sum(self._active.values()) > 0
            self._active[key] += 1
            self.peak = max(self.peak, sum(self._active.values()))
            self.peak_per_key = max(self.peak_per_key, self._active[key])
        time.sleep(self.delay_s)
        with self._lock:
            self._active[key] -= 1
        return Reply(200, b"ok")


async def test_a_slow_sink_gets_concurrent_deliveries_while_a_failing_one_dead_letters(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    window, delay_s = 6, 0.25
    # 12 services, two alerts each: alerts of one service must not overlap at a sink.
    alerts = [make_alert(n, service=f"svc-{n % 12}") for n in range(24)]
    slow = SlowSink(delay_s)
    with RecordingServer(slow) as good, RecordingServer(lambda r, n: Reply(503, b"down")) as bad:
        routes = {
            "sinks": {"slow": webhook(good.url()), "broken": webhook(bad.url())},
            "routes": [{"to": ["slow", "broken"]}],
        }
        settings = settings_for(
            kafka_bootstrap,
            kafka_topics,
            routes,
            tmp_path,
            sink_concurrency=window,
            breaker_cooldown_s=0.2,
            give_up_after_s=3,
        )
        alerts_topic = kafka_topics.name(Topic.ALERTS)
        async with dispatching(settings, ENV) as dispatcher:
            await produce(kafka_bootstrap, alerts_topic, [(a.service, a.to_json()) for a in alerts])
            await good.wait_for(lambda got: len(got) >= len(alerts), timeout_s=60)
            dead = await read_topic(
                kafka_bootstrap, kafka_topics.name(Topic.DLQ), len(alerts), timeout_s=60
            )
            records = await read_topic(
                kafka_bootstrap, kafka_topics.internal(DELIVERED_TOPIC), 2 * len(alerts)
            )
            metric = dispatcher.metrics.registry.get_sample_value
            delivered = metric(
                "kitestream_dispatcher_deliveries_total", {"sink": "slow", "outcome": "delivered"}
            )
            gave_up = metric(
                "kitestream_dispatcher_deliveries_total",
                {"sink": "broken", "outcome": "dead_lettered"},
            )
    received = good.received
    assert sorted(r.headers["idempotency-key"] for r in received) == sorted(
        a.alert_id for a in alerts
    )
    assert 2 <= slow.peak <= window  # concurrent, within the window
    assert slow.peak_per_key == 1  # one alert per key at a time ...
    order: dict[str, list[str]] = defaultdict(list)
    for request in received:
        order[str(request.json()["service"])].append(request.headers["idempotency-key"])
    for service, sent in order.items():  # ... in the order read
        assert sent == [a.alert_id for a in alerts if a.service == service]
    # Not stalled behind the failing sink: most deliveries overlapped another, where one
    # at a time would overlap none (a count, not a duration, so load cannot fail it).
    assert slow.overlapped >= len(alerts) // 2

    letters = [DeadLetter.model_validate_json(value or b"") for _, value in dead]
    assert sorted(orjson.loads(d.value or "{}")["alert_id"] for d in letters) == sorted(
        a.alert_id for a in alerts
    )
    assert all(d.error.startswith("sink broken: ") for d in letters)
    outcomes = Counter(
        (r.sink, r.outcome)
        for r in (DeliveryRecord.model_validate_json(v or b"") for _, v in records)
    )
    assert outcomes == {("slow", "delivered"): 24, ("broken", "dead_lettered"): 24}
    assert delivered == 24
    assert gave_up == 24
    committed = await committed_offsets(kafka_bootstrap, kafka_topics, settings.consumer_group)
    assert sum(committed.values()) == len(alerts)  # every alert settled on both sinks


async def test_an_alert_being_retried_does_not_hold_up_the_rest_of_the_window() -> None:
    alerts = [make_alert(n, service=f"svc-{n}") for n in range(6)]
    late = alerts[0].alert_id
    refused: list[str] = []

    def answer(request: Received, n: int) -> Reply:
        if request.headers["idempotency-key"] == late and not refused:
            refused.append(late)
            return Reply(429, b"slow down", headers=(("Retry-After", "1"),))
        return Reply(200, b"ok", delay_s=0.05)

    with RecordingServer(answer) as server:
        sink = make_sink(HOOK, {"URL": server.url(), "SECRET": "s3cret"})
        async with running_worker(sink, concurrency=2) as (worker, settled):
            for alert in alerts:
                worker.submit(make_job(alert, key=alert.service))
            outcomes = await settled.wait(len(alerts))
    assert settled.settled_ids()[-1] == late  # the others went past it meanwhile
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert Counter(r.headers["idempotency-key"] for r in server.received)[late] == 2


class Gate:
    """Holds each request until ``size`` are held at once, then answers them all 200 (or
    each after ``timeout_s``, if that many never come); notes the most it held at once."""

    def __init__(self, size: int, timeout_s: float = 5.0) -> None:
        self.size = size
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._held = 0
        self._full = threading.Event()
        self.peak = 0

    def __call__(self, request: Received, n: int) -> Reply:
        with self._lock:
            self._held += 1
            self.peak = max(self.peak, self._held)
            if self._held >= self.size:
                self._full.set()
        self._full.wait(self.timeout_s)
        with self._lock:
            self._held -= 1
        return Reply(200, b"ok")


async def test_a_sink_gets_its_whole_window_of_requests_at_once() -> None:
    # More than the 4 connections a sink's HTTP client once had: the deliveries past
    # those waited for one, and a wait longer than the pool timeout failed as the sink
    # timing out, though no request had left, and counted against its circuit.
    window = 8
    alerts = [make_alert(n, service=f"svc-{n}") for n in range(window)]
    gate = Gate(window)
    with RecordingServer(gate) as server:
        env = {"URL": server.url(), "SECRET": "s3cret"}
        sink = make_sink(HOOK, env, sink_concurrency=window)
        async with running_worker(sink, concurrency=window) as (worker, settled):
            for alert in alerts:
                worker.submit(make_job(alert, key=alert.service))
            outcomes = await settled.wait(len(alerts), timeout_s=30)
    assert gate.peak == window
    assert all(isinstance(o, Delivered) and o.attempts == 1 for o in outcomes)
    assert len(server.received) == window


class WatchedBreaker(CircuitBreaker):
    """A breaker that notes each time the circuit opens (after failures in a row, or a
    failed probe): when, on the worker's clock, and for how long."""

    def __init__(self, *, threshold: int, cooldown_s: float) -> None:
        super().__init__(threshold=threshold, cooldown_s=cooldown_s)
        self.openings: list[tuple[float, float]] = []

    def record_failure(self, now: float, sent_at: float | None = None) -> None:
        before = self.wait_s(now)
        super().record_failure(now, sent_at)
        if (wait := self.wait_s(now)) > before:  # (re)opened: nothing goes for `wait`
            self.openings.append((now, wait))


async def test_a_half_open_circuit_lets_one_delivery_probe_while_the_others_wait() -> None:
    """The circuit's timeline as its breaker records it (tN: it opened; cN: for how long)::

        the wave  open          half-open   open          half-open   open          half-open
        ─────────x[──── c1 ────)[─ probe ──x[──── c2 ────)[─ probe ──x[──── c3 ────)[─ probe ✓ …
                  t1            t1+c1       t2            t2+c2       t3            t3+c3

    The probes are timed from when the circuit opened, not from when the wave's requests
    arrived: how many of those (and of their quick retries) go out before it opens depends
    on how far apart their failures come back, which a loaded machine spreads out.
    """
    window, cooldown_s = 6, 0.3
    alerts = [make_alert(n, service=f"svc-{n}") for n in range(window)]
    breaker = WatchedBreaker(threshold=2, cooldown_s=cooldown_s)

    def answer(request: Received, n: int) -> Reply:
        # Down until the circuit opened three times (the wave, then two failed probes);
        # then back. (The worker appends to `openings`, this server thread reads it.)
        if len(breaker.openings) < 3:
            return Reply(503, b"down", delay_s=0.05)
        return Reply(200, b"ok")

    with RecordingServer(answer) as server:
        sink = make_sink(HOOK, {"URL": server.url(), "SECRET": "s3cret"})
        patient = RetryPolicy(max_attempts=50, base_s=0.01, cap_s=0.02, give_up_after_s=60)
        async with running_worker(sink, policy=patient, breaker=breaker, concurrency=window) as (
            worker,
            settled,
        ):
            for alert in alerts:
                worker.submit(make_job(alert, key=alert.service))
            outcomes = await settled.wait(len(alerts), timeout_s=30)
    got = server.received
    assert all(isinstance(o, Delivered) for o in outcomes)
    # Opened by the wave, then again by each failed probe, for twice as long: the wave's
    # failures that came back after it opened were not taken for failed probes.
    cooldowns = [cooldown_s, 2 * cooldown_s, 4 * cooldown_s]
    assert [c for _, c in breaker.openings] == pytest.approx(cooldowns)
    (t1, c1), (t2, c2), (t3, c3) = breaker.openings

    def arrived(start: float, end: float) -> list[Received]:
        return [r for r in got if start <= r.at < end]

    # Each failed probe went once the cooldown was over, alone: the others waited for
    # its answer, and nothing went while the circuit was open again.
    assert len(arrived(t1 + c1, t2)) == 1
    assert arrived(t2, t2 + c2) == []
    assert len(arrived(t2 + c2, t3)) == 1
    assert arrived(t3, t3 + c3) == []
    # After the third probe (which the sink took), each alert went once more.
    after = arrived(t3 + c3, math.inf)
    assert sorted(r.headers["idempotency-key"] for r in after) == sorted(a.alert_id for a in alerts)
