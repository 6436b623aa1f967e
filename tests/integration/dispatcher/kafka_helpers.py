"""Running the dispatcher against the real broker: in the test's event loop, or as a
``python -m services dispatcher`` process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient

from services.common.topics import Topic, Topics
from services.dispatcher.cli import wire
from services.dispatcher.service import Dispatcher
from services.dispatcher.settings import DispatcherSettings
from tests import kafka_io

__all__ = [
    "committed_offsets",
    "dispatching",
    "process_env",
    "produce",
    "settings_for",
    "start_dispatcher",
]


def settings_for(
    bootstrap: str, topics: Topics, routes: dict[str, Any], directory: Path, **overrides: Any
) -> DispatcherSettings:
    path = directory / f"routes-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(routes))
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "topic_prefix": topics.prefix,
        "routes": path,
        "group_id": f"dispatcher-{uuid.uuid4().hex[:8]}",
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.1,
        "max_attempts": 3,
        "commit_interval_s": 0.1,
        "shutdown_grace_s": 5,
        "connect_timeout_s": 2,
        "read_timeout_s": 5,
        **overrides,
    }
    return DispatcherSettings(**values)


def process_env(
    bootstrap: str,
    topics: Topics,
    routes: dict[str, Any],
    directory: Path,
    *,
    group: str,
    metrics_port: int = 0,
    **secrets: str,
) -> dict[str, str]:
    """The environment of a dispatcher process: ``routes`` written to a file in
    ``directory``, a fresh group named ``group-…``, no catalog, and ``secrets``."""
    path = directory / "routes.yaml"
    path.write_text(yaml.safe_dump(routes))
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        "KITESTREAM_ROUTES": str(path),
        "KITESTREAM_DISPATCHER_GROUP": f"{group}-{uuid.uuid4().hex[:8]}",
        "KITESTREAM_LOG_FORMAT": "text",
        "KITESTREAM_METRICS_PORT": str(metrics_port),
        **secrets,
    }
    env.pop("KITESTREAM_CATALOG", None)
    env.pop("KITESTREAM_METRICS_HOST", None)
    return env


def start_dispatcher(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m services dispatcher`` with ``env``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services", "dispatcher"], env=env, stdout=out, stderr=out
        )


@asynccontextmanager
async def dispatching(
    settings: DispatcherSettings, environ: Mapping[str, str]
) -> AsyncIterator[Dispatcher]:
    _, sinks, router = wire(settings, environ)
    dispatcher = Dispatcher(settings, sinks, router)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def produce(bootstrap: str, topic: str, items: Sequence[tuple[str | None, bytes]]) -> None:
    """``items`` (key, value) onto ``topic``, through :func:`tests.kafka_io.produce`."""
    keyed = [(topic, None if key is None else key.encode(), value) for key, value in items]
    await kafka_io.produce(bootstrap, keyed)


async def committed_offsets(bootstrap: str, topics: Topics, group_id: str) -> dict[int, int]:
    """The group's committed offset per partition of ``alerts`` (absent: none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    topic = topics.name(Topic.ALERTS)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
