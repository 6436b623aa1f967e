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

from services.common.replication import (
    Replication,
    ReplicationSettings,
    choose_replication,
    under_replicated,
)
from services.common.settings import load_settings

__all__ = [
    "Topic",
    "TopicReport",
    "TopicSpec",
    "Topics",
    "create_topics",
    "create_with_state",
    "delete_topics",
    "ensure_topics",
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
    QUARANTINE = "tests.quarantine"
    DLQ = "kitestream.dlq"


_COMPACTED = frozenset({Topic.FLAKINESS_STATE, Topic.QUARANTINE})


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
    """Every contract topic, ``flakiness.state`` and ``tests.quarantine`` compacted, plus
    ``extra`` internal ones."""
    specs = [
        TopicSpec(
            topics.name(t),
            {"cleanup.policy": "compact"} if t in _COMPACTED else {},
        )
        for t in Topic
    ]
    return specs + list(extra or [])


@dataclass(frozen=True)
class TopicReport:
    """What :func:`ensure_topics` did: the replication it chose, the topics it created,
    and the existing ones with fewer replicas than that (name -> replicas)."""

    replication: Replication
    created: list[str]
    under_replicated: dict[str, int]


async def create_topics(
    bootstrap_servers: str,
    specs: list[TopicSpec],
    *,
    partitions: int = 6,
    replication: int | None = None,
    min_insync: int | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created (see
    :func:`ensure_topics`, which also says what replication it chose)."""
    report = await ensure_topics(
        bootstrap_servers,
        specs,
        partitions=partitions,
        replication=replication,
        min_insync=min_insync,
        timeout_s=timeout_s,
    )
    return report.created


async def ensure_topics(
    bootstrap_servers: str,
    specs: list[TopicSpec],
    *,
    partitions: int = 6,
    replication: int | None = None,
    min_insync: int | None = None,
    timeout_s: float = 30.0,
) -> TopicReport:
    """Create the topics that do not exist yet, replicated as the cluster allows.

    ``replication`` and ``min_insync`` default to ``KITESTREAM_TOPIC_REPLICATION`` and
    ``KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS``, else to
    :func:`~services.common.replication.choose_replication`'s choice for the brokers
    that answer (three copies and ``min.insync.replicas=2`` from three brokers on).

    Idempotent: a topic that already exists is left as it is (its partition count is
    not changed, since that would move keys between partitions); one with fewer
    replicas than chosen is reported and logged as a warning.
    """
    if replication is None or min_insync is None:
        overrides = load_settings(ReplicationSettings)
        replication = replication if replication is not None else overrides.factor
        min_insync = min_insync if min_insync is not None else overrides.min_insync
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        chosen = choose_replication(
            len(cluster["brokers"]), factor=replication, min_insync=min_insync
        )
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        wanted = [s for s in specs if s.name not in existing]
        present = [s.name for s in specs if s.name in existing]
        fewer = under_replicated(await _replica_counts(admin, present), chosen.factor)
        for name, count in sorted(fewer.items()):
            log.warning("%s has %d replicas, fewer than %d", name, count, chosen.factor)
        if wanted:
            await _create(admin, wanted, partitions, chosen, timeout_s)
        return TopicReport(chosen, [s.name for s in wanted], fewer)
    finally:
        await admin.close()


async def _create(
    admin: AIOKafkaAdminClient,
    wanted: list[TopicSpec],
    partitions: int,
    replication: Replication,
    timeout_s: float,
) -> None:
    new = [
        NewTopic(
            name=s.name,
            num_partitions=partitions,
            replication_factor=replication.factor,
            topic_configs=replication.topic_config() | s.config,
        )
        for s in wanted
    ]
    try:
        await asyncio.wait_for(admin.create_topics(new), timeout_s)
    except TopicAlreadyExistsError:
        log.info("some topics were created concurrently; keeping them")
    await _wait_for_metadata(admin, {s.name for s in wanted}, timeout_s)


async def _replica_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """The fewest replicas of any partition of each topic (0: it does not exist)."""
    if not names:
        return {}
    counts = dict.fromkeys(names, 0)
    for entry in await admin.describe_topics(names):
        if entry["error_code"] == 0 and entry["topic"] in counts and entry["partitions"]:
            counts[entry["topic"]] = min(len(p["replicas"]) for p in entry["partitions"])
    return counts


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
    try:  # closed even when cancelled mid-start (a sibling stage failed)
        await admin.start()
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    counts = dict.fromkeys(names, 0)
    for entry in described:
        if entry["error_code"] == 0 and entry["topic"] in counts:
            counts[entry["topic"]] = len(entry["partitions"])
    return counts
