"""The shared stream runtime on real Kafka: state, restore, dead letters, crashes, scale-out.

The counter app (``counter_app.py``) numbers the records of each key; with
effectively-once processing, the committed outputs of each key are exactly 1…n.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer

from services.common.kafka import make_producer
from services.common.metrics import ProcessorMetrics
from services.common.topics import Topics, TopicSpec, create_topics
from tests.integration.common.counter_app import make_processor, topic_names
from tests.kafka_io import committed_reader, read_until

KEYS = [f"key-{n}".encode() for n in range(10)]
LAG = "kitestream_processor_lag_records"


@pytest.fixture
async def counter_topics(kafka_bootstrap: str, kafka_topics: Topics) -> dict[str, str]:
    names = topic_names(kafka_topics.prefix)
    specs = [
        TopicSpec(names["input"]),
        TopicSpec(names["output"]),
        TopicSpec(names["changelog"], {"cleanup.policy": "compact"}),
        TopicSpec(names["dlq"]),
    ]
    await create_topics(kafka_bootstrap, specs, partitions=3)
    return names


async def produce(bootstrap: str, topic: str, per_key: int, poison: bool = False) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for n in range(per_key):
            for key in KEYS:
                await producer.send(topic, f"{n}".encode(), key=key)
            if poison and n == per_key // 2:
                await producer.send(topic, b"poison", key=KEYS[0])
        await producer.flush()
    finally:
        await producer.stop()


async def read_pairs(
    consumer: AIOKafkaConsumer, seen: list[tuple[bytes, bytes]], count: int, timeout_s: float
) -> list[tuple[bytes, bytes]]:
    return await read_until(consumer, seen, count, timeout_s, lambda r: (r.key, r.value))


def per_key_counts(outputs: list[tuple[bytes, bytes]]) -> dict[bytes, list[int]]:
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for key, value in outputs:
        by_key[key].append(int(value))
    return by_key


def assert_exactly_once(outputs: list[tuple[bytes, bytes]], per_key: int) -> None:
    counts = per_key_counts(outputs)
    assert set(counts) == set(KEYS)
    for key, values in counts.items():
        assert values == list(range(1, per_key + 1)), f"{key!r}: {values}"


async def test_outputs_and_state_are_consistent_and_poison_goes_to_the_dlq(
    kafka_bootstrap: str, counter_topics: dict[str, str], kafka_topics: Topics
) -> None:
    metrics = ProcessorMetrics()
    processor = make_processor(kafka_bootstrap, kafka_topics.prefix, "solo", metrics=metrics)
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    try:
        await produce(kafka_bootstrap, counter_topics["input"], per_key=20, poison=True)
        async with committed_reader(kafka_bootstrap, counter_topics["output"]) as reader:
            outputs = await read_pairs(reader, [], 200, timeout_s=60)
        async with committed_reader(kafka_bootstrap, counter_topics["dlq"]) as reader:
            letters = await read_pairs(reader, [], 1, timeout_s=30)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    assert_exactly_once(outputs, per_key=20)
    assert len(letters) == 1
    assert b"poison record" in letters[0][1]
    assert processor.dead_letters == 1
    sample = metrics.registry.get_sample_value
    assert sample("kitestream_processor_records_total", {"service": "counter"}) == 201
    assert sample("kitestream_processor_dead_letters_total", {"service": "counter"}) == 1
    assert sample("kitestream_processor_partitions", {"service": "counter"}) == 3
    committed = {"service": "counter", "outcome": "committed"}
    assert (sample("kitestream_processor_transactions_total", committed) or 0) >= 1


async def test_a_restarted_processor_continues_from_its_changelog(
    kafka_bootstrap: str, counter_topics: dict[str, str], kafka_topics: Topics
) -> None:
    async with committed_reader(kafka_bootstrap, counter_topics["output"]) as reader:
        outputs: list[tuple[bytes, bytes]] = []
        for round_ in range(2):
            processor = make_processor(kafka_bootstrap, kafka_topics.prefix, "solo")
            stop = asyncio.Event()
            running = asyncio.create_task(processor.run(stop))
            await produce(kafka_bootstrap, counter_topics["input"], per_key=5)
            await read_pairs(reader, outputs, 50 * (round_ + 1), timeout_s=60)
            stop.set()
            await asyncio.wait_for(running, 30)
    assert_exactly_once(outputs, per_key=10)  # the second run counted on from 5


@contextlib.contextmanager
def counter_process(
    bootstrap: str, prefix: str, instance: str
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.common.counter_app",
            bootstrap,
            prefix,
            instance,
            "0.003",
        ],
        env={**os.environ, "KITESTREAM_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_sigkill_mid_stream_neither_loses_nor_duplicates(
    kafka_bootstrap: str, counter_topics: dict[str, str], kafka_topics: Topics
) -> None:
    per_key = 60
    await produce(kafka_bootstrap, counter_topics["input"], per_key=per_key)
    async with committed_reader(kafka_bootstrap, counter_topics["output"]) as reader:
        outputs: list[tuple[bytes, bytes]] = []
        with counter_process(kafka_bootstrap, kafka_topics.prefix, "crashy") as first:
            await read_pairs(reader, outputs, 100, timeout_s=60)
            first.send_signal(signal.SIGKILL)
        assert 100 <= len(outputs) < per_key * len(KEYS), "the kill must land mid-stream"
        with counter_process(kafka_bootstrap, kafka_topics.prefix, "crashy"):
            await read_pairs(reader, outputs, per_key * len(KEYS), timeout_s=120)
            # anything more would be a duplicate: give it a moment to show up
            await read_pairs(reader, outputs, per_key * len(KEYS) + 1, timeout_s=2)
    assert_exactly_once(outputs, per_key=per_key)


async def test_two_instances_split_partitions_and_count_like_one(
    kafka_bootstrap: str, counter_topics: dict[str, str], kafka_topics: Topics
) -> None:
    first = make_processor(kafka_bootstrap, kafka_topics.prefix, "a")
    second = make_processor(kafka_bootstrap, kafka_topics.prefix, "b")
    stop = asyncio.Event()
    running = [asyncio.create_task(first.run(stop))]
    try:
        await produce(kafka_bootstrap, counter_topics["input"], per_key=10)
        running.append(asyncio.create_task(second.run(stop)))  # joins mid-stream: rebalance
        await produce(kafka_bootstrap, counter_topics["input"], per_key=10)
        async with committed_reader(kafka_bootstrap, counter_topics["output"]) as reader:
            outputs = await read_pairs(reader, [], 200, timeout_s=90)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not (first.tasks and second.tasks) and loop.time() < deadline:  # noqa: ASYNC110 - polls other tasks
                await asyncio.sleep(0.2)
            owned = (set(first.tasks), set(second.tasks))
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*running), 30)
    assert_exactly_once(outputs, per_key=20)
    assert owned[0]
    assert owned[1]
    assert not owned[0] & owned[1]
    assert owned[0] | owned[1] == {0, 1, 2}


async def test_the_lag_gauge_falls_to_zero_once_transactional_input_is_read(
    kafka_bootstrap: str, counter_topics: dict[str, str], kafka_topics: Topics
) -> None:
    """Input written in transactions has a commit marker after each transaction's
    records: a caught-up processor still counts 0, not one per marker."""
    feed = make_producer(kafka_bootstrap, transactional_id=f"{kafka_topics.prefix}feed")
    await feed.start()
    try:
        for n in range(5):
            async with feed.transaction():
                for key in KEYS:
                    await feed.send(counter_topics["input"], f"{n}".encode(), key=key)
    finally:
        await feed.stop()
    metrics = ProcessorMetrics()
    processor = make_processor(kafka_bootstrap, kafka_topics.prefix, "solo", metrics=metrics)
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    try:
        async with committed_reader(kafka_bootstrap, counter_topics["output"]) as reader:
            await read_pairs(reader, [], 5 * len(KEYS), timeout_s=60)
        lags = []
        for _ in range(100):  # each turn of the loop (200 ms when idle) sets the gauge
            lags.append(metrics.registry.get_sample_value(LAG, {"service": "counter"}))
            if lags[-1] == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    assert lags[-1] == 0, lags
    assert processor.processed == 5 * len(KEYS)
