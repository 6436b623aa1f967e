"""Dispatcher benchmark: CPU per delivered alert, against a bare consume-and-POST loop.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python -m bench.dispatcher

``--alerts`` alerts (of ``--services`` services, the Kafka key) are produced to a fresh
three-partition ``alerts`` topic; a webhook sink that answers 200 at once runs in a
child process (its CPU is not counted). Then, in this process, round after round:

* bare: an aiokafka consumer reads the alerts and POSTs each value to the sink, as it
  came, over ``--window`` keep-alive connections (asyncio streams, a request written in
  one piece, the answer read with httptools): the floor for reading alerts and sending
  them over HTTP in Python;
* dispatcher: :class:`~services.dispatcher.service.Dispatcher` as ``kitestream
  dispatcher`` runs it (routes to one webhook sink, a window of ``--window`` deliveries,
  signatures, delivery records on Kafka, offsets committed), a fresh consumer group a
  round.

Each pass is timed from its first delivery to its last, with this process's CPU time
over the same span; the report gives both per alert, and the dispatcher's throughput and
CPU against the bare loop's (the medians over ``--rounds``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httptools
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.alerts import Alert
from schemas.base import stable_id
from services.common.topics import Topic, Topics, create_topics, delete_topics, topic_specs
from services.dispatcher.cli import wire
from services.dispatcher.service import Dispatcher
from services.dispatcher.settings import DispatcherSettings

SECRET = "bench-secret"  # noqa: S105 - signs the benchmark's own deliveries
T0 = datetime(2026, 8, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pass:
    name: str
    seconds: float
    cpu_s: float
    alerts: int

    @property
    def per_s(self) -> float:
        return self.alerts / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.alerts * 1e6


def alerts(count: int, services: int) -> list[Alert]:
    return [
        Alert.model_validate(
            {
                "alert_id": stable_id("bench-alert", n),
                "kind": "failure_deploy_incident",
                "severity": "critical",
                "service": f"svc-{n % services}",
                "created_at": T0 + timedelta(seconds=n),
                "summary": f"Deploy d{n} of svc-{n % services} lines up with build #{n}",
                "reasons": ["same commit", "same service"],
                "links": {"build": f"https://buildkite.com/acme/app/builds/{n}"},
                "score": 0.9,
            }
        )
        for n in range(count)
    ]


# The sink: a child process, so that its CPU is not this process's.

_SINK = """
import asyncio, sys

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


class _Answer:
    def __init__(self) -> None:
        self.done = False

    def on_message_complete(self) -> None:
        self.done = True


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _post(conn: Connection, head: bytes, body: bytes) -> None:
    reader, writer = conn
    writer.write(head + b"content-length: %d\r\n\r\n" % len(body) + body)
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    while not answer.done:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("the sink closed the connection")
        parser.feed_data(data)


async def bare(bootstrap: str, topic: str, port: int, count: int, window: int) -> Pass:
    """Consume the alerts and POST each as it came, ``window`` at a time."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(window)]
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in conns:
        free.put_nowait(conn)
    head = b"POST /hook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    sent, started, cpu0 = 0, 0.0, 0.0
    pending: set[asyncio.Task[None]] = set()

    async def one(value: bytes) -> None:
        conn = await free.get()
        try:
            await _post(conn, head, value)
        finally:
            free.put_nowait(conn)

    try:
        while sent < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=200)
            for records in batch.values():
                for record in records:
                    if not sent:
                        started, cpu0 = time.perf_counter(), time.process_time()
                    while len(pending) >= window:
                        _, pending = await asyncio.wait(
                            pending, return_when=asyncio.FIRST_COMPLETED
                        )
                    pending.add(asyncio.create_task(one(record.value or b"")))
                    sent += 1
        await asyncio.gather(*pending)
        return Pass("bare", time.perf_counter() - started, time.process_time() - cpu0, count)
    finally:
        await consumer.stop()
        for _, writer in conns:
            writer.close()


async def dispatcher(
    bootstrap: str, topics: Topics, port: int, *, count: int, window: int, folder: Path, sink: str
) -> Pass:
    """The dispatcher, through a sink named ``sink``: a new name a round, as the alerts a
    sink had are not sent to it again."""
    routes = folder / "routes.yaml"
    routes.write_text(
        yaml.safe_dump(
            {
                "sinks": {
                    sink: {
                        "type": "webhook",
                        "url": f"http://127.0.0.1:{port}/hook",
                        "secret_env": "BENCH_SECRET",
                        "allow_private": True,
                    }
                },
                "routes": [{"to": [sink]}],
            }
        )
    )
    settings = DispatcherSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=topics.prefix,
        routes=routes,
        group_id=f"bench-dispatcher-{uuid.uuid4().hex[:8]}",
        sink_concurrency=window,
    )
    _, sinks, router = wire(settings, {"BENCH_SECRET": SECRET})
    service = Dispatcher(settings, sinks, router)
    sample = service.metrics.registry.get_sample_value
    labels = {"sink": sink, "outcome": "delivered"}
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        while not (sample("kitestream_dispatcher_deliveries_total", labels) or 0):
            await asyncio.sleep(0.001)
            if task.done():
                task.result()
        started, cpu0 = time.perf_counter(), time.process_time()
        while (done := sample("kitestream_dispatcher_deliveries_total", labels) or 0) < count:
            await asyncio.sleep(0.005)
            if task.done():  # the service stopped: say why
                task.result()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
        return Pass("dispatcher", seconds, cpu, int(done) - 1)  # timed from the first's end
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def run(args: argparse.Namespace, port: int) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:8]}.")
    try:
        await create_topics(bootstrap, topic_specs(topics), partitions=3)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        try:
            for alert in alerts(args.alerts, args.services):
                await producer.send(
                    topics.name(Topic.ALERTS), alert.to_json(), key=(alert.service or "").encode()
                )
            await producer.flush()
        finally:
            await producer.stop()
        print(
            f"{args.alerts} alerts of {args.services} services on 3 partitions; "
            f"a window of {args.window}; {args.rounds} rounds",
            flush=True,
        )
        passes: list[tuple[Pass, Pass]] = []
        with tempfile.TemporaryDirectory() as folder:
            for round_ in range(1, args.rounds + 1):
                floor = await bare(
                    bootstrap, topics.name(Topic.ALERTS), port, args.alerts, args.window
                )
                ours = await dispatcher(
                    bootstrap,
                    topics,
                    port,
                    count=args.alerts,
                    window=args.window,
                    folder=Path(folder),
                    sink=f"hook-{round_}",
                )
                passes.append((floor, ours))
                print(
                    f"round {round_}: bare {floor.per_s:,.0f}/s ({floor.cpu_us:,.0f} µs CPU an "
                    f"alert), dispatcher {ours.per_s:,.0f}/s ({ours.cpu_us:,.0f} µs); "
                    f"throughput ratio {ours.per_s / floor.per_s:.2f}, "
                    f"CPU {ours.cpu_us / floor.cpu_us:.1f}x",
                    flush=True,
                )
        print(
            "median: dispatcher "
            f"{statistics.median(o.cpu_us for _, o in passes):,.0f} µs CPU an alert, bare "
            f"{statistics.median(f.cpu_us for f, _ in passes):,.0f}; throughput ratio "
            f"{statistics.median(o.per_s / f.per_s for f, o in passes):.2f}"
        )
    finally:
        await delete_topics(bootstrap, topics.prefix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=3000, help="alerts a pass (3000)")
    parser.add_argument("--services", type=int, default=40, help="services, the alerts' keys")
    parser.add_argument("--window", type=int, default=8, help="deliveries in flight (8)")
    parser.add_argument("--rounds", type=int, default=3, help="bare and dispatcher passes (3)")
    args = parser.parse_args()
    sink = subprocess.Popen([sys.executable, "-c", _SINK], stdout=subprocess.PIPE)
    try:
        assert sink.stdout is not None
        asyncio.run(run(args, int(sink.stdout.readline())))
    finally:
        sink.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
