"""System benchmark: the receiver, flakiness, correlator and dispatcher (each its own
process, as ``make run`` starts them) under a steady mixed load, against the same load
produced straight onto Kafka by a bare aiokafka loop, in the same run.

The load (``bench/mixedload.py``): per ten requests, four signed Buildkite webhooks,
four test uploads, a deploy and a PagerDuty incident, making one
``failure_deploy_incident`` and one ``flaky_test`` alert. It is sent open loop: request
*i* goes at ``start + i / rate`` whatever became of the ones before, and every latency
counts from that scheduled time, so queueing shows. Each alert is tied back to the
request that completed its story (the incident, the second upload) by its ids, and timed
to when it could be read from the alerts topic (committed) and when the dispatcher's
webhook delivered it to a recording HTTP sink in this process.

Then the rate is stepped up until the system cannot hold it (``bench/steps.py`` says
when a step is *held*): the backlog is the total consumer lag of the services' groups
plus the receiver's unanswered requests. The bare loop is stepped the same way (its
backlog: sends not yet acknowledged).

    python -m bench system                      # provides a broker (see python -m bench)
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python -m bench.system --rate 200
    python -m bench.system --rate 200 --sweep '' --rounds 5   # five rounds, the medians
    python -m bench.system --quick              # a few seconds, for a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, KeysView
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.mixedload import (
    ALERTS_PER_CYCLE,
    CYCLE,
    Credentials,
    MixedLoad,
    Request,
    catalog_yaml,
    routes_yaml,
)
from bench.rig import (
    AlertWatcher,
    LagProbe,
    RecordingSink,
    Sent,
    bare_open_loop,
    free_port,
    http_open_loop,
    services_running,
)
from bench.steps import GROWTH_ALLOWED, Latency, Step, quantile, sweep
from services.common.topics import Topic, Topics, create_topics, delete_topics, topic_specs

__all__ = ["Outcome", "main", "parse_args", "report", "rounds_report"]

HOOK_SECRET_ENV = "BENCH_HOOK_SECRET"  # noqa: S105 - the name of a variable


# -- IO: one step of each kind ----------------------------------------------------------


async def _sampled(
    run: Awaitable[None], sample: Callable[[], Awaitable[tuple[float, float]]], every: float
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Run ``run`` while sampling ``(backlog, input)`` every ``every`` seconds."""
    backlog: list[tuple[float, float]] = []
    arrived: list[tuple[float, float]] = []
    task = asyncio.ensure_future(run)
    while not task.done():
        now = time.perf_counter()
        lag, total = await sample()
        backlog.append((now, lag))
        arrived.append((now, total))
        await asyncio.wait({task}, timeout=every)
    await task
    return backlog, arrived


@dataclass
class System:
    """The running system and what watches it."""

    port: int
    sink: RecordingSink
    watcher: AlertWatcher
    probe: LagProbe
    load: MixedLoad
    next_cycle: int = 0

    def saw_all(self, keys: KeysView[str]) -> bool:
        """Whether every alert in ``keys`` was read from the topic and reached the sink."""
        return keys <= self.sink.seen.at.keys() and keys <= self.watcher.seen.at.keys()

    def take(self, rate: float, seconds: float) -> list[Request]:
        cycles = max(1, math.ceil(rate * seconds / CYCLE))
        first, self.next_cycle = self.next_cycle, self.next_cycle + cycles
        return self.load.requests(first, cycles, int(time.time()))


async def system_step(system: System, rate: float, seconds: float, drain: float) -> Step:
    requests = system.take(rate, seconds)
    expected = {r.completes: r.index for r in requests if r.completes}
    sent = Sent()
    duplicates = system.sink.seen.duplicates

    async def sample() -> tuple[float, float]:
        lag, ends = await system.probe.total()
        return lag + sent.in_flight, ends + len(sent.scheduled)

    backlog, arrived = await _sampled(
        http_open_loop(system.port, requests, rate, sent), sample, 0.5
    )
    deadline = time.perf_counter() + drain
    while time.perf_counter() < deadline and not system.saw_all(expected.keys()):  # noqa: ASYNC110 - noted by the sink's connections and the watcher's task
        await asyncio.sleep(0.1)

    if sent.failed:
        _progress(f"{sent.failed} requests failed: {sent.why_failed()}")

    def timed(seen: dict[str, float]) -> Latency:
        at = {index: seen[key] for key, index in expected.items() if key in seen}
        return Latency.between(sent.scheduled, at)

    return Step(
        rate,
        seconds,
        Latency.between(sent.scheduled, sent.answered),
        timed(system.watcher.seen.at),
        timed(system.sink.seen.at),
        dispatch=Latency(
            tuple(
                system.sink.seen.at[key] - system.watcher.seen.at[key]
                for key in expected
                if key in system.sink.seen.at and key in system.watcher.seen.at
            )
        ),
        expected=len(expected),
        backlog=backlog,
        arrived=arrived,
        sending_until=max(sent.scheduled.values(), default=0.0),
        slip=sent.slip,
        failed=sent.failed,
        duplicates=system.sink.seen.duplicates - duplicates,
    )


async def bare_step(
    bootstrap: str, topics: Topics, load: MixedLoad, *, rate: float, seconds: float
) -> Step:
    cycles = max(1, math.ceil(rate * seconds / CYCLE))
    requests = load.requests(0, cycles, int(time.time()))
    topic_of = {str(t): topics.name(t) for t in (r.topic for r in requests)}
    sent, on_topic = Sent(), dict[int, float]()

    async def sample() -> tuple[float, float]:
        return float(sent.in_flight), float(len(sent.scheduled))

    backlog, arrived = await _sampled(
        bare_open_loop(
            bootstrap, topic_of=topic_of, requests=requests, rate=rate, sent=sent, on_topic=on_topic
        ),
        sample,
        0.5,
    )
    return Step(
        rate,
        seconds,
        Latency.between(sent.scheduled, sent.answered),
        Latency.between(sent.scheduled, on_topic),
        expected=len(requests),
        backlog=backlog,
        arrived=arrived,
        sending_until=max(sent.scheduled.values(), default=0.0),
        slip=sent.slip,
        failed=sent.failed,
        to_sink=False,
    )


# -- the run ----------------------------------------------------------------------------


def _system_env(
    args: argparse.Namespace, bootstrap: str, prefix: str, tmp: Path, sink: int
) -> dict[str, str]:
    (tmp / "catalog.yaml").write_text(catalog_yaml(args.services))
    (tmp / "routes.yaml").write_text(
        routes_yaml(f"http://127.0.0.1:{sink}/alerts", HOOK_SECRET_ENV)
    )
    return {
        **os.environ,
        **Credentials().environment(),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": prefix,
        "KITESTREAM_CATALOG": str(tmp / "catalog.yaml"),
        "KITESTREAM_ROUTES": str(tmp / "routes.yaml"),
        "KITESTREAM_SPOOL_DIR": str(tmp / "spool"),
        "KITESTREAM_METRICS_PORT": "0",
        "KITESTREAM_INSTANCE_ID": "bench",
        "KITESTREAM_LOG_FORMAT": "json",
        HOOK_SECRET_ENV: "bench-hook-secret",
    }


def _groups(prefix: str) -> list[str]:
    return [
        f"{prefix}kitestream-flakiness",
        f"{prefix}kitestream-correlator-repartition",
        f"{prefix}kitestream-correlator",
        f"{prefix}kitestream-dispatcher",
    ]


@dataclass
class Outcome:
    bare: Step
    rounds: list[Step]  # the system at --rate, one per round
    bare_sweep: list[Step]
    system_sweep: list[Step]

    @property
    def system(self) -> Step:
        """The round whose p99 at the sink is the median (the lower middle one)."""
        ranked = sorted(self.rounds, key=_p99_at_sink)
        return ranked[(len(ranked) - 1) // 2]


async def run(args: argparse.Namespace, bootstrap: str) -> Outcome:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    load = MixedLoad(prefix.rstrip("."), services=args.services)
    say = _progress
    # The bare loop writes to topics of its own, which the services never read.
    bare_topics = Topics(f"{prefix}bare.")
    await create_topics(bootstrap, topic_specs(topics) + topic_specs(bare_topics))
    try:
        # The bare loop first, on a machine where the services do not run yet; a second
        # of it to warm up (new topics elect their leaders), not counted.
        await bare_step(bootstrap, bare_topics, load, rate=10, seconds=1)
        say(f"bare produce loop at {args.rate:g}/s for {args.duration:g} s")
        bare = await bare_step(bootstrap, bare_topics, load, rate=args.rate, seconds=args.duration)

        async def bare_at(rate: float) -> Step:
            say(f"bare produce loop, step at {rate:g}/s")
            return await bare_step(bootstrap, bare_topics, load, rate=rate, seconds=args.step)

        bare_sweep = await sweep(args.sweep, bare_at)
        rounds, system_sweep = await _system_run(args, bootstrap, prefix, load)
        return Outcome(bare, rounds, bare_sweep, system_sweep)
    finally:
        await delete_topics(bootstrap, prefix)


async def _system_run(
    args: argparse.Namespace, bootstrap: str, prefix: str, load: MixedLoad
) -> tuple[list[Step], list[Step]]:
    say = _progress
    sink = RecordingSink(args.sink_ms / 1000)
    sink_port = await sink.start()
    watcher = AlertWatcher(bootstrap, Topics(prefix).name(Topic.ALERTS))
    probe = LagProbe(bootstrap, _groups(prefix))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-system-") as tmp:
        env = _system_env(args, bootstrap, prefix, Path(tmp), sink_port)
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        say(f"starting receiver, flakiness, correlator, dispatcher (logs: {logs})")
        with services_running(env, port, logs):
            await watcher.start()
            await probe.start()
            try:
                system = System(port, sink, watcher, probe, load)
                say("warm-up: one story, until both its alerts reach the sink")
                warm = await system_step(system, 10, 1, drain=args.warmup)
                if not warm.complete:
                    raise RuntimeError(
                        f"warm-up: {len(warm.at_sink.values)} of {warm.expected} alerts "
                        f"reached the sink within {args.warmup:g} s; see --logs"
                    )
                rounds = []
                for n in range(1, args.rounds + 1):
                    of = f" (round {n} of {args.rounds})" if args.rounds > 1 else ""
                    say(f"system at {args.rate:g}/s for {args.duration:g} s{of}")
                    rounds.append(await system_step(system, args.rate, args.duration, args.drain))

                async def system_at(rate: float) -> Step:
                    say(f"system, step at {rate:g}/s")
                    return await system_step(system, rate, args.step, args.drain)

                steps = await sweep(args.sweep, system_at)
                return rounds, steps
            finally:
                await probe.stop()
                await watcher.stop()
                await sink.stop()


def _progress(message: str) -> None:
    sys.stderr.write(f"[bench.system] {message}\n")
    sys.stderr.flush()


# -- the report -------------------------------------------------------------------------


def report(outcome: Outcome, args: argparse.Namespace, load_before: float) -> str:
    bare, system = outcome.bare, outcome.system
    header = f"  {'':<36}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'n':>7}"
    lines = [
        f"mixed load per {CYCLE} requests: 4 Buildkite webhooks, 4 test uploads, 1 deploy, "
        f"1 PagerDuty incident -> {ALERTS_PER_CYCLE} alerts; {args.services} services; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
        f"open loop at {args.rate:g} requests/s for {args.duration:g} s; the sink answers "
        f"{args.sink_ms:g} ms after a request; dispatcher deliveries in flight per sink: "
        f"{os.environ.get('KITESTREAM_DISPATCHER_SINK_CONCURRENCY', 'default')}:",
        header,
        bare.answered.row("bare produce -> ack"),
        bare.on_topic.row("bare produce -> on topic"),
        system.answered.row("system: request -> 202"),
        system.on_topic.row("system: request -> alert on topic"),
        system.at_sink.row("system: request -> alert at sink"),
        system.dispatch.row("  of which alert on topic -> sink"),
        f"  alerts: {system.expected} expected, {len(system.on_topic.values)} on topic, "
        f"{len(system.at_sink.values)} at the sink, {system.duplicates} duplicates at the sink; "
        f"{system.failed} requests failed",
    ]
    rounds = len(outcome.rounds)
    if rounds > 1:
        lines.insert(2, f"the median round of {rounds} (each round below):")
    p99_sink = _p99_at_sink(system)
    p99_bare = quantile(bare.on_topic.values, 0.99)
    met = sum(_p99_at_sink(r) < 1.0 for r in outcome.rounds)
    if args.rate < 200:
        aim = f"not measured here (the run was at {args.rate:g}/s)"
    elif rounds > 1:
        aim = f"met in {met} of {rounds} rounds"
    else:
        aim = "met" if met else "NOT met"
    lines.append(
        f"  ratio p99 alert at sink / bare on topic: {p99_sink / p99_bare:.1f}x; "
        f"aim p99 < 1 s at 200/s mixed: {aim}"
    )
    if rounds > 1:
        lines += rounds_report(outcome.rounds)
    if outcome.system_sweep or outcome.bare_sweep:
        lines += _sweep_report(outcome, args)
    return "\n".join(lines)


def _p99_at_sink(step: Step) -> float:
    """Seconds; infinite when an alert never reached the sink."""
    return quantile(step.at_sink.values, 0.99) if step.complete else math.inf


def rounds_report(rounds: list[Step]) -> list[str]:
    """Each round's p50 / p99 (ms) and alerts, then the medians of the rounds' p99s."""
    lines = [
        f"  {'round':<7}{'202 p50/p99':>14}{'topic p50/p99':>16}{'sink p50/p99':>16}"
        f"{'alerts at sink':>16}{'dup':>5}{'failed':>8}"
    ]

    def ms(latency: Latency) -> str:
        return "/".join(f"{quantile(latency.values, q) * 1000:.0f}" for q in (0.5, 0.99))

    for n, step in enumerate(rounds, 1):
        arrived = f"{len(step.at_sink.values)}/{step.expected}"
        lines.append(
            f"  {n:<7}{ms(step.answered):>14}{ms(step.on_topic):>16}{ms(step.at_sink):>16}"
            f"{arrived:>16}{step.duplicates:>5}{step.failed:>8}"
        )
    medians = [
        statistics.median(quantile(getattr(r, name).values, 0.99) for r in rounds) * 1000
        for name in ("answered", "on_topic", "at_sink")
    ]
    lines.append(
        f"  medians of the rounds' p99: 202 {medians[0]:.0f} ms, alert on topic "
        f"{medians[1]:.0f} ms, alert at sink {medians[2]:.0f} ms"
    )
    return lines


def _sweep_report(outcome: Outcome, args: argparse.Namespace) -> list[str]:
    lines = []
    lines.append(
        f"stepping the rate ({args.step:g} s a step; held = backlog growth under "
        f"{GROWTH_ALLOWED:.0%} of the input, latency steady, every alert arrived):"
    )
    lines.append(
        f"  {'rate/s':>7}{'p99 ack':>9}{'p99 topic':>11}{'p99 sink':>10}"
        f"{'growth/s':>10}{'input/s':>9}{'slip s':>8}  held"
    )
    lines.append(
        "  (ms; ack: the broker's for the bare loop, the receiver's 202 for the system; "
        "growth and input: of the backlog and of what arrived, in records and requests "
        "in flight per second, over the second half of the step)"
    )
    for name, steps in (
        ("bare produce loop", outcome.bare_sweep),
        ("system", outcome.system_sweep),
    ):
        lines.append(f"  {name}:")
        for step in steps:
            sink = f"{quantile(step.at_sink.values, 0.99) * 1000:.0f}" if step.to_sink else "-"
            lines.append(
                f"  {step.rate:>7g}{quantile(step.answered.values, 0.99) * 1000:>9.0f}"
                f"{quantile(step.on_topic.values, 0.99) * 1000:>11.0f}{sink:>10}"
                f"{step.growth:>10.1f}{step.input_rate:>9.0f}{step.slip:>8.2f}  "
                + ("yes" if step.held else f"no ({step.why_not})")
            )
    best_bare, best_system = _best(outcome.bare_sweep), _best(outcome.system_sweep)
    capped_bare, capped_system = _all_held(outcome.bare_sweep), _all_held(outcome.system_sweep)
    ratio = f"{best_system / best_bare:.2f}" if best_bare else "-"
    if capped_bare and not capped_system and best_bare:
        ratio = f"<= {ratio}: the bare loop held every rate tried"
    under = [s.rate for s in outcome.system_sweep if quantile(s.at_sink.values, 0.99) < 1.0]
    lines.append(
        f"highest rate stepped to with p99 at the sink under 1 s: {max(under, default=0.0):g}/s"
    )
    lines.append(
        f"highest rate held: bare {'>= ' if capped_bare else ''}{best_bare:g}/s, "
        f"system {'>= ' if capped_system else ''}{best_system:g}/s (ratio {ratio})"
    )
    return lines


def _best(steps: list[Step]) -> float:
    return max((s.rate for s in steps if s.held), default=0.0)


def _all_held(steps: list[Step]) -> bool:
    return bool(steps) and all(s.held for s in steps)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.system",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Kafka: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092); "
        "`python -m bench system` provides a broker when it is not set.",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s (200)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at --rate (30)")
    parser.add_argument(
        "--sweep",
        default="100,200,400,800,1600",
        help="rates to step through, until one is not held (100,200,400,800,1600; '' for none)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=1,
        help="runs at --rate, one after the other on the same services (after one "
        "warm-up), each with fresh stories; the report gives each and their medians (1)",
    )
    parser.add_argument("--step", type=float, default=15.0, help="seconds per step (15)")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for alerts (30)")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds for the warm-up (120)")
    parser.add_argument("--services", type=int, default=40, help="services in the catalog (40)")
    parser.add_argument(
        "--sink-ms",
        type=float,
        default=0.0,
        help="the webhook sink answers this many ms after a request arrives (0)",
    )
    parser.add_argument(
        "--logs", type=Path, help="keep the services' logs in this folder (default: dropped)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="two rounds of a few seconds at 20/s and one short step (a smoke test, no "
        "figures to keep)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.duration, args.sweep, args.step = 20.0, 3.0, "40", 3.0
        args.rounds = 2
    args.sweep = [float(r) for r in args.sweep.split(",") if r.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds as Ctrl-C does, so that the services and topics are cleaned up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # leader elections on new topics
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    load_before = os.getloadavg()[0]
    try:
        outcome = _run_async(run(args, bootstrap))
    except KeyboardInterrupt:
        _progress("interrupted: the services are stopped and the topics deleted")
        return 130
    sys.stdout.write(report(outcome, args, load_before) + "\n")
    return 0


def _run_async(coro: Coroutine[Any, Any, Outcome]) -> Outcome:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
