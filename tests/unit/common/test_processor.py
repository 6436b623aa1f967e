"""What the stream runtime does when Kafka answers badly: fencing, aborted batches.

The clients come through the processor's ``clients`` seam: a producer that records
what the runtime asks of it and fails where a test says, and a consumer that hands
out given batches. They stand in for no Kafka behaviour; Kafka's own side (SIGKILL
mid-stream, fencing by a restarted instance, rebalances) is proven against a broker in
tests/integration/common.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    ProducerFenced,
    RequestTimedOutError,
)
from aiokafka.structs import ConsumerRecord, TopicPartition

from services.common.batch import Change, Output, PartitionTask, Record
from services.common.clients import (
    ChangelogReader,
    GroupConsumer,
    KafkaClients,
    TransactionalProducer,
)
from services.common.metrics import ProcessorMetrics
from services.common.processor import ProcessorError, StreamProcessor
from services.common.trouble import KafkaGaveUp

IN = TopicPartition("in", 0)
LOG = TopicPartition("log", 0)


def raw(offset: int, value: bytes, topic: str = "in") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 1, len(value), [])


class Counting:
    """Counts records per key; the count is its state."""

    def __init__(self) -> None:
        self.count = 0

    def restore(self, key: bytes, value: bytes | None) -> None:
        self.count = int(value or b"0")

    def process(self, record: Record) -> Sequence[Output | Change]:
        if record.value == b"poison":
            raise ValueError("unreadable")
        self.count += 1
        return [Change(b"k", str(self.count).encode()), Output("out", b"k", record.value)]


class Producer:
    """Records the calls; the n-th ``commit_transaction`` raises ``fail[n]``, each after
    ``turns`` turns of the event loop."""

    def __init__(self, fail: dict[int, Exception]) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail
        self.commits = 0
        self.committed_changelog: list[tuple[bytes | None, bytes | None]] = []
        self._sent: list[tuple[bytes | None, bytes | None]] = []
        self.offsets: dict[TopicPartition, int] = {}
        self.turns = 0

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def begin_transaction(self) -> None:
        self.calls.append(("begin",))
        self._sent = []

    async def send(
        self, topic: str, value: bytes | None, *, key: bytes | None, partition: int | None
    ) -> None:
        self.calls.append(("send", topic, value, partition))
        if topic == "log":
            self._sent.append((key, value))

    async def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group_id: str
    ) -> None:
        self.calls.append(("offsets", dict(offsets)))
        self._pending = dict(offsets)

    async def commit_transaction(self) -> None:
        self.commits += 1
        for _ in range(self.turns):  # a broker's answer takes a few turns of the loop
            await asyncio.sleep(0)
        if self.commits in self.fail:
            raise self.fail[self.commits]
        self.calls.append(("commit",))
        self.committed_changelog += self._sent
        self.offsets.update(self._pending)

    async def abort_transaction(self) -> None:
        self.calls.append(("abort",))


class Consumer:
    """Assigns partition 0 of ``in`` on subscribe, then hands out ``batches`` in turn
    (after a seek, from the offset sought); sets ``drained`` at the second ``getmany``
    in a row that finds them run out.
    ``failing[name]`` holds errors its method ``name`` raises, one per call, first."""

    def __init__(self, records: list[ConsumerRecord[bytes, bytes]], producer: Producer) -> None:
        self.records = records
        self.producer = producer
        self.at = 0
        self.seeks: list[int] = []
        self.empty = 0
        self.drained = asyncio.Event()
        self.failing: dict[str, list[Exception]] = {}
        self.lag: Callable[[], float | None] = lambda: None
        self.fetched: list[float | None] = []  # lag() at each getmany

    def _maybe_fail(self, name: str) -> None:
        if self.failing.get(name):
            raise self.failing[name].pop(0)

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    def subscribe(self, topics: Sequence[str], *, listener: Any) -> None:
        self.listener = listener
        listener.on_partitions_assigned([IN])

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        self._maybe_fail("getmany")
        self.fetched.append(self.lag())
        batch = self.records[self.at : self.at + 2]
        if not batch:
            # twice in a row: the commit under way at the first has landed (or failed
            # and been rewound) by the second
            self.empty += 1
            if self.empty == 2:
                self.drained.set()
            return {}
        self.empty = 0
        self.at += len(batch)
        return {IN: batch}

    def assignment(self) -> set[TopicPartition]:
        return {IN}

    async def committed(self, tp: TopicPartition) -> int | None:
        self._maybe_fail("committed")
        return self.producer.offsets.get(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)
        self.at = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return len(self.records)

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.seek(IN, 0)


class Reader:
    """Replays what the producer committed to the changelog; ``failing`` errors are
    raised by ``end_offsets``, one per call, first."""

    failing: ClassVar[list[Exception]] = []

    def __init__(self, producer: Producer) -> None:
        self.log = [
            raw(n, v or b"", "log") for n, (_, v) in enumerate(producer.committed_changelog)
        ]
        self.at = 0

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def assign(self, tps: Sequence[TopicPartition]) -> None: ...
    async def seek_to_beginning(self, *tps: TopicPartition) -> None: ...

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if self.failing:
            raise self.failing.pop(0)
        return {LOG: len(self.log)}

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch, self.at = self.log[self.at :], len(self.log)
        return {LOG: batch}

    async def position(self, tp: TopicPartition) -> int:
        return self.at


class Clients(KafkaClients):
    def __init__(
        self, records: list[ConsumerRecord[bytes, bytes]], fail: dict[int, Exception]
    ) -> None:
        super().__init__("unused:9092")
        self.producer_ = Producer(fail)
        self.consumer_ = Consumer(records, self.producer_)

    def producer(self, *, client_id: str, transactional_id: str) -> TransactionalProducer:
        return self.producer_

    def consumer(
        self, *, group_id: str, client_id: str, max_batch: int, fetch_max_wait_ms: int
    ) -> GroupConsumer:
        return self.consumer_

    def changelog_reader(self) -> ChangelogReader:
        return Reader(self.producer_)

    async def partition_counts(self, topics: list[str]) -> dict[str, int]:
        return dict.fromkeys(topics, 1)


def processor(
    clients: Clients,
    made: list[Counting],
    give_up_after_s: float = 120.0,
    metrics: ProcessorMetrics | None = None,
) -> StreamProcessor:
    def task(partition: int) -> PartitionTask:
        made.append(Counting())
        return made[-1]

    return StreamProcessor(
        bootstrap_servers="unused:9092",
        group_id="g",
        input_topics=["in"],
        task_factory=task,
        changelog_topic="log",
        dlq_topic="dlq",
        service="svc",
        instance_id="i",
        give_up_after_s=give_up_after_s,
        metrics=metrics,
        clients=clients,
    )


async def run(clients: Clients, made: list[Counting]) -> StreamProcessor:
    """Run until the consumer has handed out every record (its ``drained`` is ``stop``)."""
    proc = processor(clients, made)
    await asyncio.wait_for(proc.run(clients.consumer_.drained), timeout=10)
    return proc


async def test_a_batch_is_one_transaction_with_its_dead_letters_changes_and_offsets() -> None:
    clients = Clients([raw(0, b"a"), raw(1, b"poison")], fail={})
    proc = await run(clients, [])
    calls = clients.producer_.calls
    assert calls[0] == ("begin",)
    assert calls[1:3] == [("send", "log", b"1", 0), ("send", "out", b"a", None)]
    assert calls[3][:2] == ("send", "dlq")
    assert calls[4:] == [("offsets", {IN: 2}), ("commit",)]
    assert (proc.processed, proc.transactions, proc.dead_letters) == (2, 1, 1)


async def test_a_failed_commit_aborts_and_replays_the_batch_from_restored_state(
    pauses: list[float],
) -> None:
    records = [raw(0, b"a"), raw(1, b"b"), raw(2, b"c"), raw(3, b"d")]
    clients = Clients(records, fail={2: KafkaConnectionError("broker went away")})
    made: list[Counting] = []
    proc = await run(clients, made)
    calls = clients.producer_.calls
    assert ("abort",) in calls
    assert pauses == [0.5]
    assert clients.consumer_.seeks == [2]  # back to the offset the first batch committed
    assert len(made) == 2  # the task was dropped and rebuilt from the changelog
    assert made[1].count == 4  # 2 restored (batch 1) + 2 (batch 2 again); kept state: 6
    assert [c for c in calls if c[0] == "offsets"][-1] == ("offsets", {IN: 4})
    assert proc.processed == 4


async def test_a_fenced_producer_stops_the_processor_saying_so() -> None:
    clients = Clients([raw(0, b"a")], fail={1: ProducerFenced()})
    with pytest.raises(ProcessorError, match="fenced: another instance uses transactional id g-i"):
        await run(clients, [])


async def test_kafka_failing_while_rewinding_is_retried_and_the_state_stays_right(
    pauses: list[float],
) -> None:
    """A broker loss aborts a commit, and the group coordinator is still moving when the
    processor asks for its committed offsets: it waits, rewinds again and goes on."""
    records = [raw(0, b"a"), raw(1, b"b"), raw(2, b"c"), raw(3, b"d")]
    clients = Clients(records, fail={2: KafkaConnectionError("broker went away")})
    clients.consumer_.failing["committed"] = [KafkaError("coordinator not available")] * 2
    made: list[Counting] = []
    proc = await run(clients, made)
    assert pauses == [0.5, 1.0, 2.0]  # the commit, then the rewind twice
    assert clients.consumer_.seeks == [2]
    assert made[-1].count == 4
    assert [c for c in clients.producer_.calls if c[0] == "offsets"][-1] == ("offsets", {IN: 4})
    assert proc.processed == 4


async def test_kafka_failing_while_fetching_rewinds_and_loses_nothing(
    pauses: list[float],
) -> None:
    records = [raw(0, b"a"), raw(1, b"b"), raw(2, b"c")]
    clients = Clients(records, fail={})
    clients.consumer_.failing["getmany"] = [RequestTimedOutError()]
    made: list[Counting] = []
    proc = await run(clients, made)
    assert pauses == [0.5]
    assert clients.consumer_.seeks == []  # nothing was handed out: nothing to undo
    assert len(made) == 1  # the state was kept, not rebuilt
    assert (proc.processed, made[-1].count) == (3, 3)


async def test_kafka_failing_while_restoring_loses_none_of_the_batch_in_hand(
    pauses: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch came before its partition's state: the restore fails, the batch
    is fetched again once the state is back, and every record is counted once."""
    monkeypatch.setattr(Reader, "failing", [KafkaError("coordinator not available")])
    records = [raw(0, b"a"), raw(1, b"b"), raw(2, b"c"), raw(3, b"d")]
    clients = Clients(records, fail={})
    made: list[Counting] = []
    proc = await run(clients, made)
    assert pauses == [0.5]
    assert clients.consumer_.seeks == [0]  # back to the start: nothing committed yet
    assert (proc.processed, made[-1].count) == (4, 4)


async def test_kafka_failing_for_longer_than_the_limit_stops_the_processor_saying_so(
    pauses: list[float],
) -> None:
    clients = Clients([raw(0, b"a")], fail={})
    clients.consumer_.failing["getmany"] = [KafkaConnectionError("no broker")] * 10_000
    with pytest.raises(KafkaGaveUp, match=r"Kafka has failed for over 0s; last error: "):
        await asyncio.wait_for(
            processor(clients, [], give_up_after_s=0.0).run(clients.consumer_.drained), 10
        )
    assert pauses == [0.5]


async def test_commits_failing_for_longer_than_the_limit_stop_the_processor_too(
    pauses: list[float],
) -> None:
    """A producer that can no longer commit (its sender died) is not retried for ever."""
    clients = Clients([raw(n, b"a") for n in range(100)], fail={})
    clients.producer_.fail = {n: KafkaError("sender routine died") for n in range(1, 100)}
    with pytest.raises(KafkaGaveUp, match="last error: KafkaError"):
        await asyncio.wait_for(
            processor(clients, [], give_up_after_s=0.0).run(clients.consumer_.drained), 10
        )
    assert clients.producer_.calls.count(("abort",)) == 2


async def test_the_lag_gauge_counts_the_records_left_after_each_batch() -> None:
    clients = Clients([raw(n, b"a") for n in range(5)], fail={})
    metrics = ProcessorMetrics()
    clients.consumer_.lag = lambda: metrics.registry.get_sample_value(
        "kitestream_processor_lag_records", {"service": "svc"}
    )
    proc = processor(clients, [], metrics=metrics)
    await asyncio.wait_for(proc.run(clients.consumer_.drained), timeout=10)
    # batches of two: none measured before the first (0), then 3, 1 and 0 left (twice:
    # the fake stops at the second fetch that finds nothing)
    assert clients.consumer_.fetched == [0.0, 3.0, 1.0, 0.0, 0.0]


class Logging(Counting):
    """Counting, and each record it processes noted among the producer's calls."""

    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.calls = calls

    def process(self, record: Record) -> Sequence[Output | Change]:
        self.calls.append(("process", record.value))
        return super().process(record)


async def logged_run(clients: Clients) -> tuple[StreamProcessor, list[str]]:
    """Run with :class:`Logging` tasks until drained, two records a batch (as the fake
    consumer hands them out): the processor, and what happened in order (the producer's
    calls by name, each record processed by its value). While two or more records are
    unread after a batch, a full batch waits, and commits overlap the next batch."""
    calls = clients.producer_.calls
    proc = StreamProcessor(
        bootstrap_servers="unused:9092",
        group_id="g",
        input_topics=["in"],
        task_factory=lambda partition: Logging(calls),
        changelog_topic="log",
        dlq_topic="dlq",
        service="svc",
        instance_id="i",
        max_batch=2,
        clients=clients,
    )
    await asyncio.wait_for(proc.run(clients.consumer_.drained), timeout=10)
    return proc, [c[0] if c[0] != "process" else c[1].decode() for c in calls]


async def test_the_next_batch_is_processed_while_a_commit_is_under_way_and_sent_after_it() -> None:
    records = [raw(0, b"a"), raw(1, b"b"), raw(2, b"c"), raw(3, b"d")]
    clients = Clients(records, fail={})
    clients.producer_.turns = 3
    proc, kinds = await logged_run(clients)
    first_commit = kinds.index("commit")
    # batch 2 (c, d) went through its task before batch 1's commit landed ...
    assert kinds.index("c") < first_commit
    assert kinds.index("d") < first_commit
    # ... and its transaction began only after it: outputs stay in batch order
    assert [n for n, kind in enumerate(kinds) if kind == "begin"][1] > first_commit
    offsets = [c for c in clients.producer_.calls if c[0] == "offsets"]
    assert offsets == [("offsets", {IN: 2}), ("offsets", {IN: 4})]
    assert (proc.processed, proc.transactions) == (4, 2)


async def test_a_batch_that_catches_up_commits_before_the_next_fetch() -> None:
    """The second batch leaves less than a batch unread: its commit lands before the
    loop fetches again, so its outputs are not held back while the loop waits."""
    records = [raw(0, b"a"), raw(1, b"b"), raw(2, b"c"), raw(3, b"d")]
    clients = Clients(records, fail={})
    clients.producer_.turns = 3
    consumer, calls = clients.consumer_, clients.producer_.calls
    fetch = consumer.getmany

    async def getmany(*, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        calls.append(("fetch",))
        return await fetch(timeout_ms=timeout_ms, max_records=max_records)

    consumer.getmany = getmany  # type: ignore[method-assign]
    proc, kinds = await logged_run(clients)
    commits = [n for n, kind in enumerate(kinds) if kind == "commit"]
    assert kinds.index("c") < commits[0]  # batch 1 left two unread: overlapped
    assert commits[1] < kinds.index("fetch", kinds.index("d"))  # batch 2 caught up
    assert (proc.processed, proc.transactions) == (4, 2)


async def test_a_revocation_waits_for_the_commit_under_way_and_no_batch_starts_meanwhile() -> None:
    records = [raw(n, v) for n, v in enumerate([b"a", b"b", b"c", b"d", b"e", b"f"])]
    clients = Clients(records, fail={})
    clients.producer_.turns = 5
    calls = clients.producer_.calls
    consumer = clients.consumer_
    fetch = consumer.getmany
    revoking: list[asyncio.Task[None]] = []

    async def revoke() -> None:
        await consumer.listener.on_partitions_revoked([IN])
        calls.append(("revoked",))

    async def getmany(*, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        if consumer.at == 2 and not revoking:  # batch 1's commit is under way
            revoking.append(asyncio.ensure_future(revoke()))
        return await fetch(timeout_ms=timeout_ms, max_records=max_records)

    consumer.getmany = getmany  # type: ignore[method-assign]
    proc, kinds = await logged_run(clients)
    commits = [n for n, kind in enumerate(kinds) if kind == "commit"]
    # batch 2 was in hand when the rebalance began: it commits, then the revocation
    # goes on, and only then is batch 3 taken
    assert commits[1] < kinds.index("revoked") < kinds.index("e")
    assert proc.processed == 6
