"""The dispatcher's metrics: what each worker event counts, with explicit clocks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

import pytest

from services.dispatcher.backoff import RetryPolicy
from services.dispatcher.breaker import BreakerState, CircuitBreaker
from services.dispatcher.errors import DeliveryFailed
from services.dispatcher.metrics import OUTCOMES, DispatcherMetrics, status_class
from services.dispatcher.sinks.base import Envelope, Receipt
from tests.unit.dispatcher.factories import make_alert, make_job
from tests.unit.dispatcher.workers import running_worker

QUICK = RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.002, give_up_after_s=60)
worker_for = partial(running_worker, policy=QUICK)

Answer = Receipt | DeliveryFailed | RuntimeError


def sample(metrics: DispatcherMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, f"no sample {name}{labels}"
    return value


def deliveries(metrics: DispatcherMetrics, sink: str = "hook") -> dict[str, float]:
    return {
        outcome: sample(
            metrics, "kitestream_dispatcher_deliveries_total", sink=sink, outcome=outcome
        )
        for outcome in OUTCOMES
    }


def attempts(metrics: DispatcherMetrics, sink: str = "hook") -> dict[str, float]:
    found: dict[str, float] = {}
    for family in metrics.registry.collect():
        for s in family.samples:
            if s.name == "kitestream_dispatcher_attempts_total" and s.labels["sink"] == sink:
                found[s.labels["status_class"]] = s.value
    return found


def watched(sink: str) -> DispatcherMetrics:
    metrics = DispatcherMetrics()
    metrics.watch_sink(sink, circuit=lambda: BreakerState.CLOSED, pending=lambda: 0)
    return metrics


def latency(metrics: DispatcherMetrics, sink: str, part: str, **labels: str) -> float:
    return sample(metrics, f"kitestream_dispatcher_delivery_seconds_{part}", sink=sink, **labels)


def server_error(status: int = 500) -> DeliveryFailed:
    return DeliveryFailed(f"HTTP {status}", retryable=True, sink_down=True, status=status)


class ScriptedSink:
    """Answers each call with the next of ``answers`` (the last one repeats); waits for
    ``gate`` first when given."""

    min_interval_s = 0.0

    def __init__(
        self, answers: Sequence[Answer], *, max_batch: int = 1, gate: asyncio.Event | None = None
    ) -> None:
        self.name = "hook"
        self.max_batch = max_batch
        self._answers = list(answers)
        self._gate = gate
        self.calls: list[list[str]] = []

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        if self._gate is not None:
            await self._gate.wait()
        self.calls.append([d.alert.alert_id for d in batch])
        answer = self._answers[min(len(self.calls) - 1, len(self._answers) - 1)]
        if isinstance(answer, Receipt):
            return answer
        raise answer

    async def aclose(self) -> None:
        return None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        (Receipt("HTTP 202", status=202), "2xx"),
        (Receipt("logged"), "none"),
        (DeliveryFailed("HTTP 302", retryable=False, status=302), "3xx"),
        (DeliveryFailed("HTTP 429", retryable=True, status=429), "4xx"),
        (server_error(503), "5xx"),
        (DeliveryFailed("timed out", retryable=True, sink_down=True), "unreachable"),
        (DeliveryFailed("destination refused", retryable=False), "refused"),
        (DeliveryFailed("no JSON list", retryable=True), "error"),
        (None, "error"),
    ],
)
def test_each_attempt_answer_has_a_bounded_status_class(
    answer: Receipt | DeliveryFailed | None, label: str
) -> None:
    assert status_class(answer) == label


def test_a_watched_sink_has_every_outcome_at_zero_before_its_first_alert() -> None:
    metrics = watched("oncall")
    assert deliveries(metrics, "oncall") == dict.fromkeys(OUTCOMES, 0.0)
    assert latency(metrics, "oncall", "count") == 0
    assert sample(metrics, "kitestream_dispatcher_dead_letters_total", reason="gave_up") == 0
    assert sample(metrics, "kitestream_dispatcher_dead_letters_total", reason="invalid_alert") == 0


def test_circuit_state_and_pending_are_read_when_scraped() -> None:
    metrics = DispatcherMetrics()
    state = [BreakerState.CLOSED]
    queued = [0]
    metrics.watch_sink("oncall", circuit=lambda: state[0], pending=lambda: queued[0])
    codes = []
    for now in (BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN):
        state[0] = now
        codes.append(sample(metrics, "kitestream_dispatcher_circuit_state", sink="oncall"))
    queued[0] = 7
    assert codes == [0, 1, 2]
    assert sample(metrics, "kitestream_dispatcher_pending_alerts", sink="oncall") == 7


def test_a_delivered_batch_observes_each_alert_from_when_it_was_read() -> None:
    metrics = watched("slack")
    metrics.delivered("slack", [100.0, 101.5], Receipt("HTTP 200", status=200), now=103.0)
    assert deliveries(metrics, "slack")["delivered"] == 2
    assert latency(metrics, "slack", "count") == 2
    assert latency(metrics, "slack", "sum") == 4.5
    assert latency(metrics, "slack", "bucket", le="2.5") == 1


def test_a_skipped_receipt_counts_as_nothing_to_send_without_latency() -> None:
    metrics = watched("pd")
    metrics.delivered("pd", [100.0], Receipt("nothing open", skipped=True), now=101.0)
    assert deliveries(metrics, "pd")["nothing_to_send"] == 1
    assert deliveries(metrics, "pd")["delivered"] == 0
    assert latency(metrics, "pd", "count") == 0


async def test_two_failures_then_success_count_two_retries_and_one_delivery() -> None:
    metrics = DispatcherMetrics()
    sink = ScriptedSink([server_error(), server_error(), Receipt("HTTP 204", status=204)])
    async with worker_for(sink, clock=Clock(110.0), metrics=metrics) as (worker, settled):
        worker.submit(make_job(make_alert(1), read_at=100.0))
        await settled.wait(1)
    assert deliveries(metrics) == {
        "delivered": 1,
        "nothing_to_send": 0,
        "retried": 2,
        "dead_lettered": 0,
        "skipped_duplicate": 0,
    }
    assert attempts(metrics) == {"5xx": 2, "2xx": 1}
    assert latency(metrics, "hook", "sum") == 10.0
    assert sample(metrics, "kitestream_dispatcher_circuit_state", sink="hook") == 0


async def test_a_sink_that_never_recovers_counts_dead_lettered_and_shows_an_open_circuit() -> None:
    metrics = DispatcherMetrics()
    clock = Clock(110.0)
    breaker = CircuitBreaker(threshold=3, cooldown_s=60)
    sink = ScriptedSink([server_error(503)])
    async with worker_for(sink, breaker=breaker, clock=clock, metrics=metrics) as (worker, settled):
        worker.submit(make_job(make_alert(2), read_at=100.0))
        await settled.wait(1)
        open_code = sample(metrics, "kitestream_dispatcher_circuit_state", sink="hook")
        clock.now += 60
        cooled_code = sample(metrics, "kitestream_dispatcher_circuit_state", sink="hook")
    assert len(sink.calls) == 3
    assert deliveries(metrics)["dead_lettered"] == 1
    assert deliveries(metrics)["retried"] == 2
    assert deliveries(metrics)["delivered"] == 0
    assert attempts(metrics) == {"5xx": 3}
    assert sample(metrics, "kitestream_dispatcher_circuit_opened_total", sink="hook") == 1
    assert (open_code, cooled_code) == (2, 1)
    assert latency(metrics, "hook", "count") == 0


async def test_an_alert_the_open_circuit_stops_is_dead_lettered_without_an_attempt() -> None:
    metrics = DispatcherMetrics()
    breaker = CircuitBreaker(threshold=1, cooldown_s=600)
    breaker.record_failure(110.0)  # open until 710
    policy = RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.002, give_up_after_s=60)
    sink = ScriptedSink([Receipt("HTTP 200", status=200)])
    async with running_worker(
        sink, policy=policy, breaker=breaker, clock=Clock(110.0), metrics=metrics
    ) as (worker, settled):
        worker.submit(make_job(make_alert(3), read_at=100.0))
        await settled.wait(1)
    assert sink.calls == []
    assert deliveries(metrics)["dead_lettered"] == 1
    assert attempts(metrics) == {}


async def test_riders_count_as_skipped_and_pending_drops_after_settling() -> None:
    metrics = DispatcherMetrics()
    gate = asyncio.Event()
    sink = ScriptedSink([Receipt("HTTP 200", status=200)], max_batch=10, gate=gate)
    alert, other = make_alert(4), make_alert(5)
    async with worker_for(sink, clock=Clock(110.0), metrics=metrics) as (worker, settled):
        for a in (alert, alert, other):
            worker.submit(make_job(a, read_at=100.0))
        async with asyncio.timeout(10):
            while worker.queued:  # noqa: ASYNC110 - until the worker takes the batch
                await asyncio.sleep(0.001)
        in_flight = sample(metrics, "kitestream_dispatcher_pending_alerts", sink="hook")
        gate.set()
        await settled.wait(3)
        after = sample(metrics, "kitestream_dispatcher_pending_alerts", sink="hook")
    assert sink.calls == [[alert.alert_id, other.alert_id]]
    assert (in_flight, after) == (3, 0)
    assert deliveries(metrics)["delivered"] == 2
    assert deliveries(metrics)["skipped_duplicate"] == 1
    assert latency(metrics, "hook", "count") == 2


async def test_an_alert_the_sink_already_has_is_skipped_as_a_duplicate() -> None:
    metrics = DispatcherMetrics()
    sink = ScriptedSink([Receipt("HTTP 200", status=200)])
    alert = make_alert(6)
    async with worker_for(sink, clock=Clock(110.0), metrics=metrics) as (worker, settled):
        worker.submit(make_job(alert, read_at=100.0))
        await settled.wait(1)
        worker.submit(make_job(alert, read_at=105.0))  # read again, e.g. after a rebalance
        await settled.wait(2)
    assert len(sink.calls) == 1
    assert deliveries(metrics)["delivered"] == 1
    assert deliveries(metrics)["skipped_duplicate"] == 1


async def test_a_sink_that_raises_a_bug_counts_an_error_attempt_and_a_dead_letter() -> None:
    metrics = DispatcherMetrics()
    sink = ScriptedSink([RuntimeError("bug")])
    async with worker_for(sink, clock=Clock(110.0), metrics=metrics) as (worker, settled):
        worker.submit(make_job(make_alert(7), read_at=100.0))
        await settled.wait(1)
    assert attempts(metrics) == {"error": 1}
    assert deliveries(metrics)["dead_lettered"] == 1


def test_two_metrics_objects_do_not_share_a_registry() -> None:
    first, second = DispatcherMetrics(), DispatcherMetrics()
    first.alert_consumed()
    assert sample(first, "kitestream_dispatcher_alerts_consumed_total") == 1
    assert sample(second, "kitestream_dispatcher_alerts_consumed_total") == 0


async def test_deliveries_in_flight_fill_the_window_and_the_rest_stay_pending() -> None:
    metrics = DispatcherMetrics()
    gate = asyncio.Event()
    sink = ScriptedSink([Receipt("HTTP 200", status=200)], gate=gate)
    alerts = [make_alert(n) for n in range(10, 15)]
    async with running_worker(
        sink, policy=QUICK, clock=Clock(110.0), metrics=metrics, concurrency=3
    ) as (worker, settled):
        for alert in alerts:
            worker.submit(make_job(alert, read_at=100.0))  # no key: no order among them
        async with asyncio.timeout(10):
            while worker.queued > 2:  # noqa: ASYNC110 - until the window is full
                await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)  # nothing more starts while the window is full
        during = (
            sample(metrics, "kitestream_dispatcher_sink_in_flight", sink="hook"),
            sample(metrics, "kitestream_dispatcher_pending_alerts", sink="hook"),
            worker.queued,
        )
        gate.set()
        await settled.wait(len(alerts))
        after = sample(metrics, "kitestream_dispatcher_sink_in_flight", sink="hook")
    assert during == (3.0, 5.0, 2)
    assert after == 0
    assert deliveries(metrics)["delivered"] == 5
