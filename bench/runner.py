"""``python -m bench [--quick] [NAME ...] [-- ARGS]``: run benchmarks on a broker it provides.

``make bench`` runs this. The benchmarks are listed here, explicitly (:data:`BENCHMARKS`):
the other modules under ``bench/`` are their parts, never run on their own. Each runs as
``python -m bench.NAME`` in a child process, one after the other; figures go to stdout.

Kafka comes the way ``make test`` gets it (:func:`tests.kafka_broker.kafka_bootstrap_servers`):
``KAFKA_BOOTSTRAP_SERVERS`` when set, else a testcontainers Kafka when Docker answers, else
the project's local broker (``kitestream kafka up``; ``KITESTREAM_LOCAL_KAFKA_PORT`` picks
its port), started for the run when it does not run and stopped afterwards, also when a
benchmark fails or the run is interrupted. No broker is started when none of the chosen
benchmarks needs one.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BENCHMARKS", "Benchmark", "command", "main", "parse_args"]

log = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    name: str  # the module bench.<name>
    summary: str
    kafka: bool  # needs a broker
    quick: tuple[str, ...]  # arguments for a run of a few seconds (a smoke test)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "receiver",
            "signed webhooks through the receiver to a Kafka ack, against bare starlette",
            kafka=True,
            quick=("--duration", "1", "--warmup", "0.2", "--rate", "50", "--concurrency", "4"),
        ),
        Benchmark(
            "receiver_path",
            "the receiver's request path in-process (acks at once): CPU per request (no Kafka)",
            kafka=False,
            quick=("--count", "300", "--rounds", "1"),
        ),
        Benchmark(
            "flakiness",
            "the flakiness processor's results/s and memory, against a bare consume loop",
            kafka=True,
            quick=(
                "--results",
                "16000",
                "--tests",
                "200",
                "--no-memory",
                "--passes",
                "bare,processor",
            ),
        ),
        Benchmark(
            "dispatcher",
            "CPU per alert delivered to a webhook sink, against a bare consume-and-POST loop",
            kafka=True,
            quick=("--alerts", "200", "--rounds", "1"),
        ),
        Benchmark(
            "store",
            "the store's rows/s (Kafka -> SQL), against a bare executemany",
            kafka=True,
            quick=("--results", "2000", "--batch", "500", "--repeat", "1"),
        ),
        Benchmark(
            "system",
            "the whole system under a steady mixed load: alert latency, highest rate held",
            kafka=True,
            quick=("--quick",),
        ),
        Benchmark(
            "api",
            "query API latency over a generated year of test history (no Kafka)",
            kafka=False,
            quick=("--tests", "50", "--days", "30", "--requests", "20"),
        ),
        Benchmark(
            "console",
            "console page renders over a generated year (no Kafka)",
            kafka=False,
            quick=("--tests", "50", "--days", "30", "--alerts", "50", "--requests", "10"),
        ),
        Benchmark(
            "delivery",
            "delivery metrics of a service and a team, against the service page's read (no Kafka)",
            kafka=False,
            quick=("--services", "2", "--weeks", "4", "--deploys", "2", "--requests", "5"),
        ),
        Benchmark(
            "testsplit",
            "test plan balance: split by durations against a naive split (no Kafka, no clock)",
            kafka=False,
            quick=("--suites", "3"),
        ),
    )
}


def command(benchmark: Benchmark, *, quick: bool, extra: Sequence[str] = ()) -> list[str]:
    """The child process's argv."""
    return [
        sys.executable,
        "-m",
        f"bench.{benchmark.name}",
        *(benchmark.quick if quick else ()),
        *extra,
    ]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    listing = "\n".join(f"  {b.name:<10} {b.summary}" for b in BENCHMARKS.values())
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks (all of them, or those named), each in a child "
        "process, on a Kafka broker provided for the run. Figures and how to read them: "
        "docs/benchmarks.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"benchmarks:\n{listing}\n\nexamples:\n"
        "  python -m bench                      every benchmark, full size\n"
        "  python -m bench --quick              every benchmark for a few seconds\n"
        "  python -m bench system -- --rate 300 one benchmark with its own options "
        "(python -m bench.system --help)\n\n"
        "Kafka: KAFKA_BOOTSTRAP_SERVERS when set, else testcontainers when Docker answers, "
        "else the local broker (KITESTREAM_LOCAL_KAFKA_PORT, default 9092), started and "
        "stopped for the run.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (all)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test, not figures to keep"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    own, _, extra = _split(list(argv))
    args = parser.parse_args(own)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if extra and len(args.names) != 1:
        parser.error("arguments after -- go to one benchmark: name exactly one")
    args.extra = extra
    return args


def _split(argv: list[str]) -> tuple[list[str], bool, list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], True, argv[at + 1 :]
    return argv, False, []


@contextlib.contextmanager
def _kafka(needed: bool) -> Iterator[str | None]:
    if not needed:
        yield None
        return
    from tests.kafka_broker import kafka_bootstrap_servers

    with kafka_bootstrap_servers() as bootstrap:
        yield bootstrap


def _run_one(argv: list[str], env: dict[str, str]) -> int:
    """Run a child to its end. Ctrl-C in a terminal reaches the child too (one process
    group): give it time to clean up (its services, its topics), then stop it."""
    child = subprocess.Popen(argv, env=env, cwd=ROOT)
    try:
        return child.wait()
    except KeyboardInterrupt:
        for sig, wait_s in ((None, 30.0), (signal.SIGTERM, 15.0), (signal.SIGKILL, None)):
            if sig is not None:
                child.send_signal(sig)
            try:
                child.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        raise


def main(argv: Sequence[str] | None = None) -> int:
    from services.common.logs import configure_logging
    from services.localkafka.broker import BrokerError

    args = parse_args(sys.argv[1:] if argv is None else argv)
    # SIGTERM stops a run as Ctrl-C does: what it started is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.list:
        sys.stdout.write("".join(f"{b.name:<10} {b.summary}\n" for b in BENCHMARKS.values()))
        return 0
    chosen = [BENCHMARKS[n] for n in args.names] or list(BENCHMARKS.values())
    configure_logging("text")
    failed: list[str] = []
    try:
        with _kafka(any(b.kafka for b in chosen)) as bootstrap:
            env = dict(os.environ)
            if bootstrap is not None:
                env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
                log.info("benchmarks use Kafka at %s", bootstrap)
            for benchmark in chosen:
                argv_ = command(benchmark, quick=args.quick, extra=args.extra)
                sys.stdout.write(f"== bench.{benchmark.name}: {' '.join(argv_[1:])}\n")
                sys.stdout.flush()
                started = time.monotonic()
                code = _run_one(argv_, env)
                took = time.monotonic() - started
                if code != 0:
                    failed.append(benchmark.name)
                    log.error("bench.%s failed (exit %d) after %.0f s", benchmark.name, code, took)
                else:
                    log.info("bench.%s done in %.0f s", benchmark.name, took)
    except BrokerError as exc:
        log.error("no Kafka broker for the benchmarks: %s", exc)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted; what this run started is stopped")
        return 130
    if failed:
        log.error("failed: %s", ", ".join(failed))
        return 1
    return 0
