"""Flakiness processor benchmark: throughput against a bare consumer, memory per test.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python -m bench.flakiness

1. Throughput. ``--results`` test results (``--tests`` tests per build, 2% of them
   flaky: failing one run in ten, then passing on rerun) are produced once to a fresh
   one-partition ``tests.results``. Then, in this process and this run:

   * bare: an aiokafka consumer (``read_committed``) reads them and decodes each value
     with orjson, nothing else;
   * processor: the flakiness processor (shared runtime, Kafka transactions, changelog,
     ``flakiness.state``/``tests.runs``/``alerts``) processes them, one partition, so one
     task on one core.

   Each is timed from its first record to its last; the ratio is processor / bare.
   A third pass (diagnostic) runs the processor again on a fresh consumer group with
   the runtime's consumer given ``fetch_max_wait_ms=50`` instead of aiokafka's 500 ms
   default, patched in this process only: with one idle input topic, a fetch for it
   holds the busy one's next fetch for up to that long (see docs/benchmarks.md). A
   fourth pass, with the same patch, runs the runtime with a task that only decodes
   each record and writes one changelog record for it: the ceiling the runtime allows
   a processor that writes one changelog record per input.
2. Memory. ``--memory-tests`` tests, each with a full window of N = 50 executions (one
   build context per execution, shared by every test of the build, as an upload
   shares its job), fed through the tracker's restore path; RSS growth per test,
   subjects (names) included. The same through ``Tracker.add`` for a tenth of them, as
   a cross-check. Each measurement runs in a fresh interpreter.

Uses a broker that is already running; creates topics under a unique prefix and
deletes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from services.common import kafka as kafka_module
from services.common.kafka import make_consumer, make_producer
from services.common.processor import Output, PartitionTask, Record, StreamProcessor
from services.common.topics import Topic, Topics, TopicSpec, create_topics, topic_specs
from services.flakiness.execution import Context, Execution, TestSubject
from services.flakiness.settings import FlakinessSettings
from services.flakiness.task import FlakinessTask, TopicNames
from services.flakiness.tracker import Entry, Tracker

T0 = 1_800_000_000.0


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


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = make_producer(bootstrap, linger_ms=20)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, key=b"pytest", partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def bare_loop(bootstrap: str, topic: str, count: int) -> float:
    """Results per second of consume + decode, first record to last."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="bench-bare")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        seen, start = 0, 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batch.values():
                if not start:
                    start = time.perf_counter()
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return count / (time.perf_counter() - start)
    finally:
        await consumer.stop()


class _ShortFetchWait(AIOKafkaConsumer):  # type: ignore[misc]
    def __init__(self, *topics: str, **config: object) -> None:
        config.setdefault("fetch_max_wait_ms", 50)
        super().__init__(*topics, **config)


@contextlib.contextmanager
def short_fetch_wait() -> Iterator[None]:
    """The diagnostic: the runtime's consumers wait at most 50 ms for an idle input."""
    original = vars(kafka_module)["AIOKafkaConsumer"]
    setattr(kafka_module, "AIOKafkaConsumer", _ShortFetchWait)  # noqa: B010 - a bench-only patch
    try:
        yield
    finally:
        setattr(kafka_module, "AIOKafkaConsumer", original)  # noqa: B010


class _DecodeOnly:
    """The floor: decode, then one changelog record per input, nothing else."""

    def __init__(self, changelog: str) -> None:
        self.changelog = changelog

    def restore(self, key: bytes, value: bytes | None) -> None:
        pass

    def process(self, record: Record) -> list[Output]:
        data = orjson.loads(record.value or b"{}")
        value = orjson.dumps({"at": data["received_at"], "id": data["event_id"], "f": 0})
        return [Output(self.changelog, data["event_id"].encode(), value, record.partition)]


async def through_processor(
    bootstrap: str, topics: Topics, count: int, *, floor: bool = False
) -> float:
    names = TopicNames.under(topics)
    core = FlakinessSettings()

    def task(partition: int) -> PartitionTask:
        if floor:
            return _DecodeOnly(names.changelog)
        return FlakinessTask(partition, names, core)

    processor = StreamProcessor(
        bootstrap_servers=bootstrap,
        group_id=f"{topics.prefix}bench",
        input_topics=[names.results, names.jobs],
        task_factory=task,
        changelog_topic=names.changelog,
        dlq_topic=names.dlq,
        service="bench-flakiness",
        instance_id="bench",
    )
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    start, first = 0.0, 0
    while processor.processed < count:
        if running.done():
            running.result()
        await asyncio.sleep(0.005)
        if not start and processor.processed:
            start, first = time.perf_counter(), processor.processed
    elapsed = time.perf_counter() - start
    stop.set()
    await running
    return (count - first) / elapsed


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_test(tests: int, *, via_add: bool, size: int = 50) -> float:
    """RSS growth per tracked test with full windows of ``size`` executions."""
    tracker = Tracker(FlakinessSettings(window_size=size))
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
        for b in range(size)
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
    if via_add:
        for b, ctx in enumerate(contexts):
            for t, subject in enumerate(subjects):
                tracker.add(Execution(subject, ctx, T0 + b * 600, f"{b:08x}{t:024x}", False))
    else:
        for t, subject in enumerate(subjects):
            entry = tracker.entries[subject] = Entry(subject, tracker.contexts)
            for b, ctx in enumerate(contexts):
                entry.put(b, T0 + b * 600, (b << 40) | t, ctx, failed=False, attempt=1)
    gc.collect()
    grown = rss() - before
    assert len(tracker.entries) == tests
    return grown / tests


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def throughput(bootstrap: str, count: int, tests: int) -> list[float]:
    """Bare loop, processor, and the two diagnostics; each on topics of its own."""
    values = list(results(count, tests))
    rates = []
    for run in ("bare", "processor", "diagnostic", "floor"):
        topics = Topics(prefix=f"bench{uuid.uuid4().hex[:8]}.")
        changelog = TopicSpec(topics.internal("flakiness-changelog"), {"cleanup.policy": "compact"})
        await create_topics(bootstrap, topic_specs(topics, extra=[changelog]), partitions=1)
        try:
            await produce(bootstrap, topics.name(Topic.TEST_RESULTS), values)
            if run == "bare":
                rates.append(await bare_loop(bootstrap, topics.name(Topic.TEST_RESULTS), count))
            elif run == "processor":
                rates.append(await through_processor(bootstrap, topics, count))
            else:
                with short_fetch_wait():
                    rate = await through_processor(bootstrap, topics, count, floor=run == "floor")
                rates.append(rate)
        finally:
            await delete_topics(bootstrap, topics.prefix)
    return rates


def _in_fresh_interpreter(path: str, tests: int) -> float:
    argv = [sys.executable, "-m", "bench.flakiness", "--memory-only", path]
    done = subprocess.run([*argv, "--memory-tests", str(tests)], capture_output=True, check=True)
    return float(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=60_000)
    parser.add_argument("--tests", type=int, default=2_000, help="tests per build")
    parser.add_argument("--memory-tests", type=int, default=100_000)
    parser.add_argument("--memory-only", choices=["restore", "add"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        per_test = memory_per_test(args.memory_tests, via_add=args.memory_only == "add")
        sys.stdout.write(f"{per_test:.0f}\n")
        return 0
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")

    bare, processed, diagnostic, floor = asyncio.run(
        throughput(bootstrap, args.results, args.tests)
    )
    out = sys.stdout.write
    out(f"throughput over {args.results} results ({args.tests} tests per build), one partition:\n")
    out(f"  bare consume + decode                {bare:9.0f} results/s\n")
    out(f"  flakiness processor                  {processed:9.0f} results/s")
    out(f"  ratio {processed / bare:.3f}\n")
    out(f"  … with fetch_max_wait_ms=50 (diag.)  {diagnostic:9.0f} results/s")
    out(f"  ratio {diagnostic / bare:.3f}\n")
    out(f"  runtime floor, same patch (diag.)    {floor:9.0f} results/s")
    out(f"  ratio {floor / bare:.3f}\n")
    restored = _in_fresh_interpreter("restore", args.memory_tests)
    added = _in_fresh_interpreter("add", args.memory_tests // 10)
    out("memory per tracked test, N = 50 full windows:\n")
    out(f"  {args.memory_tests} tests (restore path)   {restored:6.0f} bytes\n")
    out(f"  {args.memory_tests // 10} tests (Tracker.add)   {added:6.0f} bytes\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
