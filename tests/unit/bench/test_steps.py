"""The pure arithmetic of ``bench/system.py``: quantiles, backlog slopes, held or not."""

from __future__ import annotations

import math

from bench.steps import Latency, Step, held, quantile, slope, sweep


def test_quantile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 0.5) == 50.0
    assert quantile(values, 0.99) == 99.0
    assert quantile([3.0], 0.99) == 3.0
    assert math.isnan(quantile([], 0.5))


def test_slope_of_a_line_and_of_too_few_points() -> None:
    assert slope([(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) == 2.0
    assert slope([(0.0, 7.0)]) == 0.0
    assert slope([(1.0, 1.0), (1.0, 5.0)]) == 0.0


def test_a_rate_is_held_only_when_the_backlog_stays_flat_and_everything_arrived() -> None:
    def judged(
        growth: float = 5.0, slip: float = 0.0, complete: bool = True, steady: bool = True
    ) -> bool:
        return held(growth=growth, input_rate=200.0, slip=slip, complete=complete, steady=steady)

    assert judged()
    assert not judged(growth=50.0)
    assert not judged(slip=2.0)
    assert not judged(complete=False)
    assert not judged(steady=False)


def test_latencies_come_in_the_order_requests_were_scheduled() -> None:
    latency = Latency.between({1: 10.0, 2: 11.0, 3: 12.0}, {3: 12.5, 1: 10.1, 2: 11.2, 4: 9.0})
    assert [round(v, 3) for v in latency.values] == [0.1, 0.2, 0.5]


def test_latency_that_keeps_climbing_is_not_steady() -> None:
    assert Latency((0.1, 0.2, 0.15, 0.3)).steady
    assert Latency(()).steady
    assert not Latency((0.1, 0.2, 0.9, 1.5)).steady


def test_a_step_judges_growth_on_the_second_half_of_its_samples() -> None:
    flat_then_growing = [(t / 2, 10.0 if t < 10 else 10.0 + 100 * (t - 10)) for t in range(20)]
    arriving = [(t / 2, 100.0 * t) for t in range(20)]  # 200 records/s
    one = Latency((0.1,))
    growing = Step(100, 10, one, one, one, expected=1, backlog=flat_then_growing, arrived=arriving)
    assert growing.growth == 200.0
    assert growing.input_rate == 200.0
    assert not growing.held
    steady = [(t / 2, 10.0 if t < 10 else 12.0) for t in range(20)]
    flat = Step(100, 10, one, one, one, expected=1, backlog=steady, arrived=arriving)
    assert flat.held


def test_a_system_step_is_complete_when_every_alert_reached_the_sink() -> None:
    two = Latency((0.1, 0.2))
    one = Latency((0.1,))
    assert Step(100, 10, two, two, two, expected=2).complete
    assert not Step(100, 10, two, two, one, expected=2).complete
    assert Step(100, 10, two, two, Latency(()), expected=2, to_sink=False).complete


def test_the_drain_after_the_last_request_does_not_count_as_shrinking_backlog() -> None:
    growing = [(float(t), 10.0 * t) for t in range(11)]  # sending until t = 10
    draining = [(float(t), 100.0 - 50 * (t - 10)) for t in range(11, 13)]
    arriving = [(float(t), 100.0 * min(t, 10)) for t in range(13)]
    one = Latency((0.1,))
    step = Step(
        100,
        10,
        one,
        one,
        one,
        expected=1,
        backlog=growing + draining,
        arrived=arriving,
        sending_until=10.0,
    )
    assert step.growth == 10.0
    assert step.input_rate == 100.0
    assert step.why_not == ""
    flat = [(float(t), 5.0) for t in range(11)]
    late = Step(100, 10, one, one, Latency(()), expected=1, backlog=flat, arrived=arriving)
    assert late.why_not == "alerts late"


def _step(rate: float, ok: bool) -> Step:
    one = Latency((0.1,))
    return Step(rate, 1, one, one, one if ok else Latency(()), expected=1)


async def test_a_sweep_stops_at_the_first_rate_not_held_and_tries_halfway_back() -> None:
    tried: list[float] = []

    async def measure(rate: float) -> Step:
        tried.append(rate)
        return _step(rate, ok=rate <= 500)

    steps = await sweep([100, 200, 400, 800, 1600], measure)
    assert tried == [100, 200, 400, 800, 600]
    assert [s.held for s in steps] == [True, True, True, False, False]


async def test_a_sweep_that_holds_every_rate_tries_each_once() -> None:
    async def measure(rate: float) -> Step:
        return _step(rate, ok=True)

    assert [s.rate for s in await sweep([10, 20], measure)] == [10, 20]
