"""Run ``kitestream reconcile`` / ``backfill`` as a user would, and read what they wrote."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import TopicPartition

from services.common.kafka import make_consumer
from services.common.topics import Topic, Topics, partition_counts
from tests.integration.reconcile.buildkite_api import TOKEN

__all__ = ["Finished", "Published", "command_env", "read_finished", "run_command"]


def command_env(bootstrap: str, topics: Topics, api_url: str, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        "BUILDKITE_API_TOKEN": TOKEN,
        "KITESTREAM_BUILDKITE_ORG": "acme",
        "KITESTREAM_BUILDKITE_API_URL": api_url,
        "KITESTREAM_LOG_FORMAT": "json",
        "KITESTREAM_RECONCILE_BACKOFF_S": "0.05",
        **settings,
    }


@dataclass(frozen=True)
class Finished:
    returncode: int
    stderr: str


async def run_command(env: dict[str, str], *args: str, timeout_s: float = 180) -> Finished:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return Finished(proc.returncode, stderr.decode())


@dataclass(frozen=True)
class Published:
    """One message on buildkite.builds or buildkite.jobs, in partition order."""

    topic: str
    partition: int
    key: str
    value: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.value["event_id"])


async def read_finished(bootstrap: str, topics: Topics) -> list[Published]:
    """Everything on the two topics up to their current end (committed data)."""
    names = [topics.name(Topic.BUILDS), topics.name(Topic.JOBS)]
    counts = await partition_counts(bootstrap, names)
    parts = [TopicPartition(n, p) for n in names for p in range(counts[n])]
    consumer = make_consumer(bootstrap, group_id=None, read_committed=True)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[Published] = []
        todo = {tp for tp in parts if ends[tp] > 0}
        async with asyncio.timeout(60):
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=300)
                for tp, records in batch.items():
                    out.extend(
                        Published(
                            tp.topic, tp.partition, (r.key or b"").decode(), orjson.loads(r.value)
                        )
                        for r in records
                    )
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
        return out
    finally:
        await consumer.stop()
