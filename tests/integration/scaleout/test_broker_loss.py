"""A broker dies under load and nothing acknowledged is lost, no alert is missing or
doubled: the scale-out promise of docs/production.md, shown on three real brokers.

Two receivers, two members of each processor group (flakiness, correlator) and two
dispatchers run as separate processes against a local three-broker cluster whose
topics have three replicas and ``min.insync.replicas=2``. A steady stream of small
stories (:mod:`tests.integration.scaleout.stream`) goes through the receivers; when a
third of it is acknowledged, the broker leading the busiest partitions is SIGKILLed,
and it is started again once two thirds are. Afterwards:

- every event a receiver acknowledged (202) is on its topic;
- the ``alerts`` topic holds exactly the alerts an undisturbed run gives, once each;
- the webhook sink received every alert, and a second time at most for the one
  delivery per sink a dispatcher may have in flight (its documented resend).

``KITESTREAM_SCALEOUT_STORIES`` sets the stream's length (default 12 stories, five
requests each: the short form ``make test`` runs; try 60 for a longer one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from services.common.topics import Topic, Topics, create_topics, topic_specs
from services.localkafka.cluster import LocalCluster
from tests.integration.dispatcher.recorder import RecordingServer
from tests.integration.localkafka.cluster import running_cluster
from tests.integration.scaleout.stream import (
    CREDENTIALS,
    Request,
    catalog_yaml,
    expected_alerts,
    routes_yaml,
    stories,
    subject,
)
from tests.kafka_io import committed_reader
from tests.ports import free_port

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[3]
STORIES = int(os.environ.get("KITESTREAM_SCALEOUT_STORIES", "12"))
STREAM_S = 24.0  # the stream is spread evenly over this long, both receivers together
INPUTS = [Topic.BUILDS, Topic.DEPLOYS, Topic.INCIDENTS, Topic.TEST_RESULTS]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """Three brokers for this test alone, stopped at the end whatever happens."""
    with running_cluster(tmp_path / "home") as started:
        yield started


@contextlib.contextmanager
def services(
    env: dict[str, str], logs: Path, receiver_ports: list[int]
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Every service twice, as separate processes; SIGTERM (then SIGKILL) at the end."""
    commands = {
        f"receiver-{n}": ["receiver", "--port", str(port)] for n, port in enumerate(receiver_ports)
    }
    for name in ("flakiness", "correlator", "dispatcher"):
        commands |= {f"{name}-{n}": [name] for n in range(2)}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in commands.items():
            own = {
                **env,
                "KITESTREAM_INSTANCE_ID": name,
                "KITESTREAM_SPOOL_DIR": str(logs / f"spool-{name}"),
            }
            with (logs / f"{name}.log").open("wb") as out:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "services", *argv],
                    env=own,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        yield procs
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def last_lines(logs: Path, names: dict[str, int | None], count: int = 15) -> str:
    """The end of each named service's log, to say why it died."""
    return "\n".join(
        f"--- {name}.log (last {count} lines)\n"
        + "\n".join((logs / f"{name}.log").read_text(errors="replace").splitlines()[-count:])
        for name in names
    )


async def wait_ready(urls: list[str], procs: dict[str, subprocess.Popen[bytes]]) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(90):
        for url in urls:
            while True:
                dead = [name for name, p in procs.items() if p.poll() is not None]
                assert not dead, f"exited at start: {dead}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.3)


class Load:
    """Posts the stream at a steady rate, alternating receivers, and keeps every
    acknowledgement. A request that fails (transport error, 5xx) is sent again, as a
    sender that wants its event delivered would; only 202s count as acknowledged."""

    def __init__(self, urls: list[str], requests: list[Request]) -> None:
        self.urls = urls
        self.requests = requests
        self.acks: list[tuple[Request, dict[str, Any]]] = []
        self.retries = 0
        self._acked = asyncio.Condition()

    @property
    def fraction_done(self) -> float:
        return len(self.acks) / len(self.requests)

    async def until(self, fraction: float) -> None:
        """Return once ``fraction`` of the requests are acknowledged."""
        async with self._acked:
            await self._acked.wait_for(lambda: self.fraction_done >= fraction)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=30.0) as client, asyncio.TaskGroup() as group:
            for n, request in enumerate(self.requests):
                group.create_task(self._post(client, self.urls[n % len(self.urls)], request))
                await asyncio.sleep(STREAM_S / len(self.requests))

    async def _post(self, client: httpx.AsyncClient, url: str, request: Request) -> None:
        async with asyncio.timeout(120):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.post(
                        f"{url}{request.path}", content=request.body, headers=request.headers
                    )
                    if response.status_code == 202:
                        async with self._acked:
                            self.acks.append((request, response.json()))
                            self._acked.notify_all()
                        return
                    assert response.status_code >= 500, (request.label, response.text)
                self.retries += 1
                await asyncio.sleep(0.5)


async def busiest_leader(bootstrap: str, names: list[str]) -> int:
    """The broker that leads the partitions holding the most messages of ``names``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        leaders = {
            TopicPartition(t["topic"], p["partition"]): p["leader"]
            for t in await admin.describe_topics(names)
            for p in t["partitions"]
        }
        ends = await consumer.end_offsets(list(leaders))
    finally:
        await consumer.stop()
        await admin.close()
    weight: Counter[int] = Counter()
    for tp, leader in leaders.items():
        weight[leader] += ends[tp]
    return weight.most_common(1)[0][0]


async def read_all(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Every committed message of ``topic`` up to its end offsets now."""
    values: list[dict[str, Any]] = []
    async with committed_reader(bootstrap, topic) as consumer:
        partitions = consumer.assignment() or {
            TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()
        }
        ends = await consumer.end_offsets(list(partitions))
        async with asyncio.timeout(timeout_s):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    values.extend(orjson.loads(r.value) for r in records)
    return values


async def alerts_when_complete(
    bootstrap: str, topic: str, expected: set[tuple[str, str]], timeout_s: float
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with committed_reader(bootstrap, topic) as consumer, asyncio.timeout(timeout_s):
        while not expected <= {subject(a) for a in seen}:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                seen.extend(orjson.loads(r.value) for r in records)
    return seen


@contextlib.asynccontextmanager
async def broker_loss(
    cluster: LocalCluster, load: Load, names: list[str]
) -> AsyncIterator[list[tuple[str, int, int]]]:
    """SIGKILL the busiest leader once a third of the load is acknowledged, start it
    again once two thirds are; yields what happened: (action, node, acks by then)."""
    events: list[tuple[str, int, int]] = []

    async def fail_and_recover() -> None:
        await load.until(1 / 3)
        victim = await busiest_leader(cluster.bootstrap, names)
        cluster.node(victim).kill()
        events.append(("killed", victim, len(load.acks)))
        await asyncio.sleep(5)  # at least: the cluster fences it and moves leadership
        await load.until(2 / 3)
        events.append(("restarted", victim, len(load.acks)))
        await asyncio.to_thread(cluster.node(victim).launch)
        await asyncio.to_thread(cluster.node(victim).wait_ready)

    task = asyncio.create_task(fail_and_recover())
    try:
        yield events
        await task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_losing_the_busiest_leader_loses_no_acknowledged_event_and_no_alert(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    topics = Topics(f"s{uuid.uuid4().hex[:6]}.")
    await create_topics(cluster.bootstrap, topic_specs(topics), partitions=3)
    (tmp_path / "catalog.yaml").write_text(catalog_yaml(STORIES))
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    load = Load(urls, stories(STORIES, datetime.now(UTC), uuid.uuid4().hex[:8]))
    expected = expected_alerts(STORIES)
    with RecordingServer() as hook:
        (tmp_path / "routes.yaml").write_text(routes_yaml(hook.url("/alerts")))
        env = {
            **os.environ,
            **CREDENTIALS,
            "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
            "KITESTREAM_TOPIC_PREFIX": topics.prefix,
            "KITESTREAM_CATALOG": str(tmp_path / "catalog.yaml"),
            "KITESTREAM_ROUTES": str(tmp_path / "routes.yaml"),
            "SCALE_HOOK_SECRET": "scale-hook-secret",
            "KITESTREAM_METRICS_PORT": "0",
            "KITESTREAM_LOG_FORMAT": "json",
        }
        with services(env, tmp_path, ports) as procs:
            await wait_ready(urls, procs)
            names = [topics.name(t) for t in INPUTS]
            async with broker_loss(cluster, load, names) as events:
                await load.run()
            assert [action for action, _, _ in events] == ["killed", "restarted"], events
            assert events[1][2] < len(load.requests), f"the stream ended first: {events}"
            alerts = await alerts_when_complete(
                cluster.bootstrap, topics.name(Topic.ALERTS), expected, timeout_s=180
            )
            ids = {a["alert_id"] for a in alerts}
            await hook.wait_for(
                lambda got: ids <= {r.headers.get("idempotency-key") for r in got},
                timeout_s=120,
            )
            await asyncio.sleep(3)  # room for a late resend to show
            exited = {name: p.poll() for name, p in procs.items() if p.poll() is not None}
            assert not exited, f"services died during the test: {exited}\n" + last_lines(
                tmp_path, exited
            )

        # every acknowledged event is on its topic
        stored: dict[str, list[dict[str, Any]]] = {
            name: await read_all(cluster.bootstrap, name) for name in names
        }
        event_ids = {v["event_id"] for values in stored.values() for v in values}
        results_per_upload = Counter(
            v["upload_id"] for v in stored[topics.name(Topic.TEST_RESULTS)]
        )
        for request, body in load.acks:
            if request.path == "/v1/uploads":
                assert results_per_upload[body["id"]] >= body["queued"] == 3, request.label
            else:
                assert body["event_id"] in event_ids, request.label
        assert len(load.acks) == len(load.requests)

        # exactly the alerts of an undisturbed run, once each
        final = await read_all(cluster.bootstrap, topics.name(Topic.ALERTS))
        assert Counter(subject(a) for a in final) == Counter(expected)
        assert len({a["alert_id"] for a in final}) == len(final)

        # each delivered; a second time only for what a dispatcher had in flight
        deliveries = Counter(r.headers.get("idempotency-key") for r in hook.received)
        assert set(deliveries) == ids
        resent = {alert_id: n for alert_id, n in deliveries.items() if n > 1}
        spooled = sum(body.get("delivery") == "spool" for _, body in load.acks)
        log.info(
            "%s; %d requests, %d retried, %d spooled; %d alerts, %d resent",
            events,
            len(load.acks),
            load.retries,
            spooled,
            len(ids),
            len(resent),
        )
        assert sum(n - 1 for n in resent.values()) <= 2, resent  # one per dispatcher
