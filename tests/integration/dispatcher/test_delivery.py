"""Retries, Retry-After, the circuit breaker and giving up, against real HTTP servers."""

from __future__ import annotations

import asyncio

from services.dispatcher.backoff import RetryPolicy
from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.worker import Delivered, GaveUp
from tests.integration.dispatcher.harness import make_sink
from tests.integration.dispatcher.recorder import RecordingServer, Reply
from tests.ports import free_port
from tests.unit.dispatcher.factories import make_alert, make_job
from tests.unit.dispatcher.workers import running_worker

HOOK = {"type": "webhook", "url_env": "URL", "secret_env": "SECRET", "allow_private": True}


def hook(url: str) -> dict[str, str]:
    return {"URL": url, "SECRET": "s3cret"}


async def test_a_sink_that_is_down_gets_the_alert_once_it_is_back() -> None:
    port = free_port()
    sink = make_sink(HOOK, hook(f"http://127.0.0.1:{port}/hook"))
    patient = RetryPolicy(max_attempts=100, base_s=0.02, cap_s=0.05, give_up_after_s=60)
    alert = make_alert(1)
    async with running_worker(sink, policy=patient) as (worker, settled):
        worker.submit(make_job(alert))
        await asyncio.sleep(0.3)  # connection refused, retried meanwhile
        assert settled.outcomes == []
        with RecordingServer(port=port) as server:
            [outcome] = await settled.wait(1)
    assert isinstance(outcome, Delivered)
    assert outcome.attempts > 1
    [got] = server.received
    assert got.headers["idempotency-key"] == alert.alert_id


async def test_500s_are_retried_with_the_same_body_and_idempotency_key() -> None:
    def flaky(request: object, n: int) -> Reply:
        return Reply(500, b"oops") if n < 3 else Reply(204, b"")

    with RecordingServer(flaky) as server:
        sink = make_sink(HOOK, hook(server.url()))
        async with running_worker(sink) as (worker, settled):
            worker.submit(make_job(make_alert(2)))
            [outcome] = await settled.wait(1)
    assert isinstance(outcome, Delivered)
    assert outcome.attempts == 4
    got = server.received
    assert len(got) == 4
    assert len({r.body for r in got}) == 1
    assert len({r.headers["idempotency-key"] for r in got}) == 1
    assert [r.headers["x-kitestream-attempt"] for r in got] == ["1", "2", "3", "4"]


async def test_429_is_retried_no_sooner_than_retry_after() -> None:
    def limited(request: object, n: int) -> Reply:
        return Reply(429, b"slow down", headers=(("Retry-After", "1"),)) if n == 0 else Reply()

    with RecordingServer(limited) as server:
        sink = make_sink(HOOK, hook(server.url()))
        async with running_worker(sink) as (worker, settled):
            worker.submit(make_job(make_alert(3)))
            [outcome] = await settled.wait(1)
    assert isinstance(outcome, Delivered)
    first, second = server.received
    assert second.at - first.at >= 1.0


async def test_a_4xx_answer_is_not_retried() -> None:
    with RecordingServer(lambda r, n: Reply(400, b"invalid_payload")) as server:
        sink = make_sink(HOOK, hook(server.url()))
        async with running_worker(sink) as (worker, settled):
            worker.submit(make_job(make_alert(4)))
            [outcome] = await settled.wait(1)
    assert isinstance(outcome, GaveUp)
    assert outcome.attempts == 1
    assert "HTTP 400: invalid_payload" in outcome.reason
    assert len(server.received) == 1


async def test_a_sink_that_never_recovers_is_given_up_after_the_last_attempt() -> None:
    with RecordingServer(lambda r, n: Reply(503, b"down")) as server:
        sink = make_sink(HOOK, hook(server.url()))
        policy = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.02, give_up_after_s=30)
        async with running_worker(sink, policy=policy) as (worker, settled):
            worker.submit(make_job(make_alert(5)))
            [outcome] = await settled.wait(1)
    assert isinstance(outcome, GaveUp)
    assert outcome.reason == "gave up after 3 attempts; last error: HTTP 503: down"
    assert len(server.received) == 3


async def test_an_open_circuit_stops_calls_to_a_dead_sink() -> None:
    with RecordingServer(lambda r, n: Reply(500, b"dead")) as server:
        sink = make_sink(HOOK, hook(server.url()))
        policy = RetryPolicy(max_attempts=10, base_s=0.01, cap_s=0.02, give_up_after_s=5)
        breaker = CircuitBreaker(threshold=2, cooldown_s=60)
        async with running_worker(sink, policy=policy, breaker=breaker) as (worker, settled):
            worker.submit(make_job(make_alert(6)))
            worker.submit(make_job(make_alert(7)))
            first, second = await settled.wait(2)
    assert isinstance(first, GaveUp)
    assert isinstance(second, GaveUp)
    assert first.attempts == 2
    assert first.reason.startswith("circuit open after repeated failures (HTTP 500")
    assert second.attempts == 0  # not even tried: the circuit was open
    assert second.reason == "circuit open after repeated failures (HTTP 500: dead)"
    assert len(server.received) == 2


async def test_a_dead_sink_does_not_hold_up_another() -> None:
    dead = make_sink(HOOK, hook(f"http://127.0.0.1:{free_port()}/hook"))
    patient = RetryPolicy(max_attempts=1000, base_s=0.02, cap_s=0.05, give_up_after_s=60)
    alerts = [make_alert(n) for n in range(10, 15)]
    with RecordingServer() as server:
        live = make_sink(HOOK, hook(server.url()))
        async with (
            running_worker(dead, policy=patient) as (dead_worker, dead_settled),
            running_worker(live) as (live_worker, live_settled),
        ):
            for alert in alerts:
                dead_worker.submit(make_job(alert))
                live_worker.submit(make_job(alert))
            outcomes = await live_settled.wait(5)
            assert dead_settled.outcomes == []
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert [r.headers["idempotency-key"] for r in server.received] == [a.alert_id for a in alerts]
