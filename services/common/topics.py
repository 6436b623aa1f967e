"""Topic names (contract) and idempotent topic creation.

Every name takes the optional ``KITESTREAM_TOPIC_PREFIX``; tests use a unique prefix each
so that they never see one another's messages.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

__all__ = [
    "Topic",
    "TopicSpec",
    "Topics",
    "create_topics",
    "create_with_state",
    "delete_topics",
    "partition_counts",
    "topic_specs",
]

log = logging.getLogger(__name__)


class Topic(StrEnum):
    """The contract topics, by their unprefixed names."""

    BUILDS = "buildkite.builds"
    JOBS = "buildkite.jobs"
    AGENTS = "buildkite.agents"
    TEST_RESULTS = "tests.results"
    DEPLOYS = "deploys"
    INCIDENTS = "incidents"
    FLAKINESS_STATE = "flakiness.state"
    TEST_RUNS = "tests.runs"
    ALERTS = "alerts"
    DLQ = "kitestream.dlq"


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: its full name and its per-topic configuration."""

    name: str
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """Full topic names under one prefix: ``Topics("ci-").name(Topic.ALERTS)``."""

    prefix: str = ""

    def name(self, topic: Topic | str) -> str:
        return f"{self.prefix}{topic}"

    def internal(self, name: str) -> str:
        """Name of an internal topic (changelog, repartition, delivery log)."""
        return f"{self.prefix}kitestream.{name}"


def topic_specs(topics: Topics, extra: list[TopicSpec] | None = None) -> list[TopicSpec]:
    """Every contract topic, ``flakiness.state`` compacted, plus ``extra`` internal ones."""
    specs = [
        TopicSpec(
            topics.name(t),
            {"cleanup.policy": "compact"} if t is Topic.FLAKINESS_STATE else {},
        )
        for t in Topic
    ]
    return specs + list(extra or [])


async def create_topics(
    bootstrap_servers: str,
    specs: list[TopicSpec],
    *,
    partitions: int = 6,
    replication: int = 1,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Idempotent: a topic that already exists is left as it is (its partition count is
    not changed, since that would move keys between partitions).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(
                name=s.name,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs=s.config,
            )
            for s in wanted
        ]
        try:
            await asyncio.wait_for(admin.create_topics(new), timeout_s)
        except TopicAlreadyExistsError:
            log.info("some topics were created concurrently; keeping them")
        await _wait_for_metadata(admin, {s.name for s in wanted}, timeout_s)
        return [s.name for s in wanted]
    finally:
        await admin.close()


async def create_with_state(
    bootstrap_servers: str,
    topics: Topics,
    state: list[TopicSpec],
    *,
    like: str,
    default_partitions: int = 6,
) -> int:
    """Create what is missing for a stream processor: the contract topics, and its own
    ``state`` topics (repartition, changelog) with as many partitions as its input
    ``like`` (``default_partitions`` when that does not exist yet). A state topic made
    earlier with another count is kept, with a warning: partition *i* of a changelog
    must hold the state of input partition *i*. Returns the partition count."""
    partitions = (await partition_counts(bootstrap_servers, [like]))[like] or default_partitions
    await create_topics(bootstrap_servers, topic_specs(topics, extra=state), partitions=partitions)
    counts = await partition_counts(bootstrap_servers, [spec.name for spec in state])
    for name, count in counts.items():
        if count != partitions:
            log.warning("%s has %s partitions, %s %d", name, count, like, partitions)
    return partitions


async def delete_topics(
    bootstrap_servers: str, prefix: str, *, timeout_s: float = 30.0
) -> list[str]:
    """Delete every topic whose name starts with ``prefix``; return the names deleted
    (a test's or a benchmark's own topics, under a prefix of their own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await asyncio.wait_for(admin.delete_topics(mine), timeout_s)
        return mine
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: set[str], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"topics not visible after {timeout_s:.0f}s: {sorted(names)}")


async def partition_counts(bootstrap_servers: str, names: list[str]) -> dict[str, int]:
    """How many partitions each topic has (0: it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="kitestream-setup")
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    counts = dict.fromkeys(names, 0)
    for entry in described:
        if entry["error_code"] == 0 and entry["topic"] in counts:
            counts[entry["topic"]] = len(entry["partitions"])
    return counts
