"""Flakiness processor benchmark: throughput against a bare consumer, memory per test.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python -m bench.flakiness

1. Throughput. ``--results`` test results (``--tests`` tests per build, 2% of them
   flaky: failing one run in ten, then passing on rerun) are produced to a fresh
   one-partition ``tests.results`` for each pass. Then, in this process and this run:

   * bare: an aiokafka consumer (``read_committed``) reads them and decodes each value
     with orjson, nothing else;
   * processor: the flakiness processor (shared runtime, Kafka transactions, changelog,
     ``flakiness.state``/``tests.runs``/``alerts``), one partition, so one task on one
     core, at the default ``KITESTREAM_FLAKINESS_MAX_BATCH``; then again at
     ``--small-batch`` records per transaction (the old default);
   * runtime floor: the runtime with a task that decodes each record and writes
     nothing: the most the runtime lets any task do;
   * core: the flakiness task alone, records handed to it in memory (no Kafka) through
     the runtime's own batch step, ``KITESTREAM_FLAKINESS_MAX_BATCH`` records a step.

   Each Kafka pass is timed from its first record to its last; the CPU time of this
   process per result over the same span is shown too (the machine may be shared; CPU
   time is less sensitive to other load than wall time). ``--rounds N`` runs the Kafka
   passes N times, round after round, and adds the medians: on a shared machine the
   speed of one pass drifts by 2x within a minute, and a ratio of passes run seconds
   apart says more than any one pass. For the processor, the
   changelog it wrote (records, bytes) is read back and counted.
2. Memory. ``--memory-tests`` tests, each with a full window of N = 50 executions (one
   build context per execution, shared by every test of the build, as an upload
   shares its job), taken in through the restore path; RSS growth per test, subjects
   (names) included. The same through the task (``Tracker.add``, the changelog's
   bookkeeping and its per-batch writes) for a quarter of them, with 60 executions per
   test so that every window has pushed out its oldest. Each in a fresh interpreter.

The flakiness core runs compiled where the install compiled it; set
``KITESTREAM_PURE_PYTHON=1`` to measure the pure-Python modules instead (the first
line of the output says which ran). Every part runs with the garbage collector's
thresholds the service sets (``services.flakiness.service.tune_gc``); ``--default-gc``
keeps CPython's.

Uses a broker that is already running; creates topics under a unique prefix and
deletes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka.structs import TopicPartition

from services.common.kafka import make_consumer, make_producer
from services.common.processor import (
    BatchStep,
    KafkaClients,
    Output,
    PartitionTask,
    Record,
    StreamProcessor,
)
from services.common.topics import (
    Topic,
    Topics,
    TopicSpec,
    create_topics,
    delete_topics,
    topic_specs,
)
from services.compiled import compiled_modules
from services.flakiness.execution import Context, Execution, TestSubject
from services.flakiness.partitioner import partition_of
from services.flakiness.service import tune_gc
from services.flakiness.settings import FlakinessSettings, ServiceSettings
from services.flakiness.task import FlakinessTask, FlakinessTopics

T0 = 1_800_000_000.0
DEFAULT_BATCH: int = ServiceSettings.model_fields["max_batch"].default


def results(total: int, tests: int, seed: int = 7) -> Iterator[bytes]:
    """``tests.results`` values: builds of ``tests`` tests until ``total`` are made."""
    rnd = random.Random(seed)
    made, build = 0, 0
    while made < total:
        build += 1
        env = {
            "ci": "buildkite",
            "key": f"build-{build}",
            "number": str(build),
            "job_id": f"job-{build}",
            "branch": "main",
            "commit_sha": f"{build:040x}",
            "url": f"https://buildkite.com/acme/payments-api/builds/{build}",
        }
        received_at = datetime.fromtimestamp(T0 + build * 600, UTC).isoformat()
        for t in range(tests):
            failed = t % 50 == 0 and rnd.random() < 0.1
            for attempt, outcome in enumerate(["failed", "passed"] if failed else ["passed"], 1):
                if made == total:
                    return
                made += 1
                yield orjson.dumps(
                    {
                        "event_id": f"{build:08x}{t:08x}{attempt:016x}",
                        "suite": "pytest",
                        "upload_id": f"upload-{build}",
                        "received_at": received_at,
                        "test": {
                            "scope": f"tests.test_module_{t // 20}.TestModule",
                            "name": f"test_case_{t}_behaves",
                            "location": f"tests/test_module_{t // 20}.py:{t}",
                            "file_name": f"tests/test_module_{t // 20}.py",
                        },
                        "result": outcome,
                        "attempt": attempt,
                        "duration_s": 0.012,
                        "failure_reason": "AssertionError: expected 3, got 4"
                        if attempt == 1 and failed
                        else None,
                        "run_env": env,
                    }
                )


@dataclass(frozen=True)
class Rate:
    """Results per second (wall) and CPU microseconds per result over one pass."""

    per_s: float
    cpu_us: float


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = make_producer(bootstrap, linger_ms=20)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, key=b"pytest", partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def bare_loop(bootstrap: str, topic: str, count: int) -> Rate:
    """Consume + decode, first record to last."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="bench-bare")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        seen, start, cpu = 0, 0.0, 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batch.values():
                if not start:
                    start, cpu = time.perf_counter(), time.process_time()
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return Rate(count / (time.perf_counter() - start), _cpu_us(cpu, count))
    finally:
        await consumer.stop()


class _DecodeOnly:
    """The floor: decode each record, write nothing."""

    def restore(self, key: bytes, value: bytes | None) -> None:
        pass

    def process(self, record: Record) -> list[Output]:
        orjson.loads(record.value or b"{}")
        return []


async def through_processor(
    bootstrap: str, topics: Topics, count: int, max_batch: int, *, floor: bool = False
) -> Rate:
    names = FlakinessTopics.under(topics)
    core = FlakinessSettings()

    def task(partition: int) -> PartitionTask:
        return _DecodeOnly() if floor else FlakinessTask(partition, names, core)

    processor = StreamProcessor(
        bootstrap_servers=bootstrap,
        group_id=f"{topics.prefix}bench",
        input_topics=[names.results, names.jobs],
        task_factory=task,
        changelog_topic=names.changelog,
        dlq_topic=names.dlq,
        service="bench-flakiness",
        instance_id="bench",
        max_batch=max_batch,
        clients=KafkaClients(bootstrap, partitioner=partition_of),  # as the service's
    )
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    start, first, cpu = 0.0, 0, 0.0
    while processor.processed < count:
        if running.done():
            running.result()
        await asyncio.sleep(0.005)
        if not start and processor.processed:
            start, first, cpu = time.perf_counter(), processor.processed, time.process_time()
    elapsed = time.perf_counter() - start
    rate = Rate((count - first) / elapsed, _cpu_us(cpu, count - first))
    stop.set()
    await running
    return rate


def _cpu_us(since: float, count: int) -> float:
    return (time.process_time() - since) / count * 1e6


async def changelog_volume(bootstrap: str, topic: str) -> tuple[int, int]:
    """Records and bytes (keys + values) committed to the changelog."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="bench-changelog")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        records = size = 0
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                records += 1
                size += len(record.key or b"") + len(record.value or b"")
        return records, size
    finally:
        await consumer.stop()


def core_alone(values: list[bytes], batch: int = DEFAULT_BATCH) -> Rate:
    """The task with no Kafka: records in memory through the runtime's batch step,
    ``batch`` records a step."""
    names = FlakinessTopics.under(Topics("bench."))
    topic = names.results
    tasks = {0: FlakinessTask(0, names, FlakinessSettings())}
    step = BatchStep(service="bench", dlq_topic=names.dlq, changelog_topic=names.changelog)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(values), batch):
        chunk = values[first : first + batch]
        step.run(tasks, (Record(topic, 0, n, b"pytest", v, 0) for n, v in enumerate(chunk)))
    return Rate(len(values) / (time.perf_counter() - start), _cpu_us(cpu, len(values)))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_test(tests: int, *, via_task: bool, size: int = 50) -> float:
    """RSS growth per tracked test with full windows of ``size`` executions."""
    builds = size + 10 if via_task else size
    task = FlakinessTask(
        0, FlakinessTopics.under(Topics("bench.")), FlakinessSettings(window_size=size)
    )
    tracker = task.tracker
    contexts = [
        Context(
            build_id=f"build-{b}",
            build_number=str(b),
            job_id=f"job-{b}",
            commit=f"{b:040x}",
            branch="main",
            on_default_branch=True,
            build_url=f"https://buildkite.com/acme/payments-api/builds/{b}",
            pipeline="payments-api",
            suite="pytest",
        )
        for b in range(builds)
    ]
    gc.collect()
    before = rss()
    subjects = [
        TestSubject(
            "pytest",
            sys.intern(f"tests.test_module_{t // 20}.TestModule"),
            f"test_case_{t}_behaves",
            sys.intern(f"tests/test_module_{t // 20}.py"),
        )
        for t in range(tests)
    ]
    if via_task:
        for b, ctx in enumerate(contexts):
            for t, subject in enumerate(subjects):
                changes = tracker.add(
                    Execution(subject, ctx, T0 + b * 600, f"{b:08x}{t:024x}", False)
                )
                if changes is not None:
                    task.changelog.changed(changes)
                if t % 2000 == 1999:
                    task.changelog.flush(tracker)
    else:
        for t, subject in enumerate(subjects):
            entry = tracker.restore_entry(subject)
            entry.load([(T0 + b * 600, (b << 40) | t, ctx, 2) for b, ctx in enumerate(contexts)])
    gc.collect()
    grown = rss() - before
    assert len(tracker.entries) == tests
    assert all(len(e) == size for e in tracker.entries.values())
    return grown / tests


KAFKA_PASSES = ("bare", "processor", "small", "floor")
PASSES = (*KAFKA_PASSES, "core")


async def throughput(
    bootstrap: str, values: list[bytes], small_batch: int, passes: list[str], rounds: int = 1
) -> tuple[dict[str, list[Rate]], tuple[int, int]]:
    """The Kafka passes asked for (bare loop, processor at two batch sizes, runtime
    floor), each on topics of its own; all of them ``rounds`` times, one round after
    the other, so that each round's ratios compare passes run seconds apart."""
    rates: dict[str, list[Rate]] = {}
    volume = (0, 0)
    for _ in range(rounds):
        for run in (p for p in KAFKA_PASSES if p in passes):
            rate, made = await _kafka_pass(bootstrap, values, small_batch, run)
            rates.setdefault(run, []).append(rate)
            volume = made or volume
    return rates, volume


async def _kafka_pass(
    bootstrap: str, values: list[bytes], small_batch: int, run: str
) -> tuple[Rate, tuple[int, int] | None]:
    """One pass on fresh topics; the processor's changelog volume too."""
    count = len(values)
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:8]}.")
    changelog = TopicSpec(topics.internal("flakiness-changelog"), {"cleanup.policy": "compact"})
    await create_topics(bootstrap, topic_specs(topics, extra=[changelog]), partitions=1)
    try:
        await produce(bootstrap, topics.name(Topic.TEST_RESULTS), values)
        if run == "bare":
            return await bare_loop(bootstrap, topics.name(Topic.TEST_RESULTS), count), None
        batch = small_batch if run == "small" else DEFAULT_BATCH
        rate = await through_processor(bootstrap, topics, count, batch, floor=run == "floor")
        if run == "processor":
            return rate, await changelog_volume(bootstrap, changelog.name)
        return rate, None
    finally:
        await delete_topics(bootstrap, topics.prefix)


def _in_fresh_interpreter(path: str, tests: int, default_gc: bool) -> float:
    argv = [sys.executable, "-m", "bench.flakiness", "--memory-only", path]
    if default_gc:
        argv.append("--default-gc")
    done = subprocess.run([*argv, "--memory-tests", str(tests)], capture_output=True, check=True)
    return float(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=60_000)
    parser.add_argument("--tests", type=int, default=2_000, help="tests per build")
    parser.add_argument(
        "--small-batch", type=int, default=2000, help="the second batch size (the old default)"
    )
    parser.add_argument("--memory-tests", type=int, default=100_000)
    parser.add_argument(
        "--passes",
        default=",".join(PASSES),
        help=f"comma-separated throughput passes to run, of {','.join(PASSES)} "
        "(ratios need bare); default: all",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the Kafka passes this many times, round after round, and give each "
        "round and the medians (on a shared machine one pass says little)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's garbage collector thresholds (the service raises them)",
    )
    parser.add_argument("--memory-only", choices=["restore", "task"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.default_gc:
        tune_gc()  # the collector's thresholds as the service sets them, for every part
    if args.memory_only:
        per_test = memory_per_test(args.memory_tests, via_task=args.memory_only == "task")
        sys.stdout.write(f"{per_test:.0f}\n")
        return 0
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    unknown = sorted(set(passes) - set(PASSES))
    if unknown:
        parser.error(f"unknown passes {unknown}; choose from {','.join(PASSES)}")
    if args.results < 2 * DEFAULT_BATCH and {"processor", "floor"} & set(passes):
        parser.error(
            f"--results must be at least {2 * DEFAULT_BATCH} (twice the max batch): "
            "a processor pass is timed from its first batch to its last"
        )
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")

    values = list(results(args.results, args.tests))
    rates, (records, size) = asyncio.run(
        throughput(bootstrap, values, args.small_batch, passes, max(1, args.rounds))
    )
    if "core" in passes:
        rates["core"] = [core_alone(values)]
    out = sys.stdout.write
    build = "compiled with mypyc" if compiled_modules() else "pure Python"
    out(f"flakiness core: {build} (KITESTREAM_PURE_PYTHON=1 runs the sources)\n")
    out(f"throughput over {args.results} results ({args.tests} tests per build), one partition:\n")
    labels = {
        "bare": "bare consume + decode",
        "processor": f"flakiness processor, max batch {DEFAULT_BATCH}",
        "small": f"flakiness processor, max batch {args.small_batch}",
        "floor": f"runtime floor (decode only), max batch {DEFAULT_BATCH}",
        "core": "flakiness task alone, no Kafka",
    }
    rounds = max(len(r) for r in rates.values())
    for n in range(rounds):
        if rounds > 1:
            out(f" round {n + 1}:\n")
        bare = rates["bare"][n].per_s if "bare" in rates else None
        for run in (p for p in PASSES if p in rates and n < len(rates[p])):
            _line(out, labels[run], rates[run][n], bare)
    if rounds > 1:
        out(f" medians over {rounds} rounds (ratio: the median of the rounds' ratios):\n")
        for run in (p for p in PASSES if p in rates):
            _median_line(out, labels[run], rates[run], rates.get("bare"))
    if "processor" in rates:
        out(f"  changelog: {records} records, {size / args.results:.0f} bytes per result\n")
    if args.no_memory:
        return 0
    restored = _in_fresh_interpreter("restore", args.memory_tests, args.default_gc)
    through_task = _in_fresh_interpreter("task", args.memory_tests // 4, args.default_gc)
    out("memory per tracked test, N = 50 full windows:\n")
    out(f"  {args.memory_tests} tests (restore path)        {restored:6.0f} bytes\n")
    out(f"  {args.memory_tests // 4} tests (task: add + changelog)  {through_task:6.0f} bytes\n")
    return 0


def _line(out: Callable[[str], object], label: str, rate: Rate, bare: float | None) -> None:
    ratio = f"ratio {rate.per_s / bare:.3f}" if bare else ""
    out(f"  {label:48} {rate.per_s:8.0f} results/s  {ratio:11}")
    out(f"  cpu {rate.cpu_us:5.1f} us/result\n")


def _median_line(
    out: Callable[[str], object], label: str, runs: list[Rate], bare: list[Rate] | None
) -> None:
    per_s = statistics.median(r.per_s for r in runs)
    ratios = [r.per_s / b.per_s for r, b in zip(runs, bare or [], strict=False)]
    ratio = f"ratio {statistics.median(ratios):.3f}" if len(ratios) == len(runs) else ""
    cpu = statistics.median(r.cpu_us for r in runs)
    out(f"  {label:48} {per_s:8.0f} results/s  {ratio:11}  cpu {cpu:5.1f} us/result\n")


if __name__ == "__main__":
    sys.exit(main())
