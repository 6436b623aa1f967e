"""The running parts of ``bench/system.py``: the services as child processes, the
recording HTTP sink the dispatcher posts to, a watcher on the alerts topic, a consumer
lag probe, and the two open-loop senders (HTTP into the receiver; a bare aiokafka
produce loop). Every time here is ``time.perf_counter()`` of this one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.mixedload import Request, alert_key
from services.common.kafka import make_consumer, make_producer

__all__ = [
    "AlertWatcher",
    "LagProbe",
    "RecordingSink",
    "Sent",
    "bare_open_loop",
    "free_port",
    "http_open_loop",
    "services_running",
]

log = logging.getLogger("bench.rig")
ROOT = Path(__file__).resolve().parents[1]
SERVICES = (["flakiness"], ["correlator"], ["dispatcher"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def services_running(env: dict[str, str], port: int, logs: Path) -> Iterator[None]:
    """``kitestream receiver``, ``flakiness``, ``correlator`` and ``dispatcher`` as child
    processes (as ``make run`` starts them), logs under ``logs``; stopped on the way out."""
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for argv in (["receiver", "--port", str(port)], *SERVICES):
            with (logs / f"{argv[0]}.log").open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "services", *argv],
                    env=env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C is the runner's to pass on
                )
            procs.append((argv[0], proc))
        _wait_listening(port, procs)
        yield
        for name, proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {logs}/{name}.log")
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_listening(port: int, procs: Sequence[tuple[str, subprocess.Popen[bytes]]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for name, proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.2)
    raise RuntimeError("the receiver did not start listening within 60 s")


# -- where alerts are seen ------------------------------------------------------------


@dataclass
class Seen:
    """First time each alert key was seen (duplicates are counted, not timed again)."""

    at: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    other: int = 0  # alerts of no story (flaky_test_recovered, or unknown keys)

    def note(self, alert: dict[str, Any], at: float) -> None:
        key = alert_key(alert)
        if key is None:
            self.other += 1
        elif key in self.at:
            self.duplicates += 1
        else:
            self.at[key] = at


class RecordingSink:
    """A minimal HTTP/1.1 keep-alive server on 127.0.0.1 that answers 200 to every POST
    and notes when each alert arrived (the dispatcher's webhook sink posts them);
    ``delay_s`` after it arrived, as a real webhook endpoint takes its time to answer."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.seen = Seen()
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()  # its handler ends on the closed stream
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                arrived = time.perf_counter()
                self.requests += 1
                with contextlib.suppress(orjson.JSONDecodeError):
                    self.seen.note(orjson.loads(body), arrived)
                if self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()


class AlertWatcher:
    """Reads the alerts topic (committed records only, as a subscriber would)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen = Seen()
        self._consumer = make_consumer(bootstrap, topic, group_id=None, fetch_max_wait_ms=100)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    self.seen.note(orjson.loads(record.value), now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


class LagProbe:
    """Total consumer lag of some groups: end offset minus committed offset, summed over
    the partitions each group has committed (transaction markers count as one each, a
    constant; what matters is whether the total grows)."""

    def __init__(self, bootstrap: str, groups: Sequence[str]) -> None:
        self.groups = list(groups)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._ends = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        await self._admin.start()
        await self._ends.start()

    async def stop(self) -> None:
        await self._ends.stop()
        await self._admin.close()

    async def total(self) -> tuple[int, int]:
        """(the lag, the sum of the end offsets: what has arrived so far)."""
        committed: dict[TopicPartition, int] = {}
        for group in self.groups:
            offsets = await self._admin.list_consumer_group_offsets(group)
            for tp, meta in offsets.items():
                key = TopicPartition(f"{group}\0{tp.topic}", tp.partition)
                committed[key] = meta.offset
        partitions = {TopicPartition(k.topic.split("\0", 1)[1], k.partition) for k in committed}
        if not partitions:
            return 0, 0
        ends = await self._ends.end_offsets(list(partitions))
        lag = sum(
            max(0, ends[TopicPartition(k.topic.split("\0", 1)[1], k.partition)] - offset)
            for k, offset in committed.items()
        )
        return lag, sum(ends.values())


# -- the two senders ------------------------------------------------------------------


@dataclass
class Sent:
    """What an open loop did: per request its scheduled time and when it was answered."""

    scheduled: dict[int, float] = field(default_factory=dict)
    answered: dict[int, float] = field(default_factory=dict)
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # connection errors, by type

    def why_failed(self) -> str:
        """The answers other than 2xx and the connection errors, counted."""
        bad = {f"HTTP {k}": n for k, n in sorted(self.statuses.items()) if not 200 <= k < 300}
        return ", ".join(f"{n} {what}" for what, n in {**bad, **self.errors}.items())

    slip: float = 0.0  # how late the generator was at worst when it sent a request

    @property
    def in_flight(self) -> int:
        return len(self.scheduled) - len(self.answered) - self.failed


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return int(head[9:12])


async def _open_loop(
    requests: Sequence[Request], rate: float, sent: Sent, send: Any, start: float
) -> None:
    """Send request i at ``start + i / rate`` whatever happened to the ones before
    (latency counts from the scheduled time, so queueing is measured)."""
    tasks = []
    try:
        for i, request in enumerate(requests):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                sent.slip = max(sent.slip, -delay)
            sent.scheduled[request.index] = scheduled
            tasks.append(asyncio.create_task(send(request)))
        await asyncio.gather(*tasks)
    finally:  # interrupted: no request is left running
        for task in tasks:
            task.cancel()


async def _answered(conn: _Connection | None, port: int, raw: bytes) -> tuple[_Connection, int]:
    """``raw`` answered on ``conn``, or on a new connection when there is none or the
    server closed or reset it before any answer: the connection used, and the status."""
    if conn is not None:
        try:
            return conn, await conn.request(raw)
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise  # an answer had begun: a failure, not a closed idle connection
            conn.writer.close()
    fresh = await _Connection.open(port)
    try:
        return fresh, await fresh.request(raw)
    except BaseException:
        fresh.writer.close()
        raise


async def http_open_loop(
    port: int, requests: Sequence[Request], rate: float, sent: Sent, pool: int = 64
) -> None:
    """The requests into the receiver over ``pool`` keep-alive connections, the one
    used last first (at a low rate the others sit idle, and the server closes them
    after its keep-alive timeout: a request that finds its connection closed or reset
    before any answer goes again once, on a new connection, as HTTP clients do)."""
    idle: asyncio.LifoQueue[_Connection | None] = asyncio.LifoQueue()  # None: open a new one
    for _ in range(pool):
        idle.put_nowait(await _Connection.open(port))

    async def send(request: Request) -> None:
        conn = await idle.get()  # waiting for a connection counts as latency
        try:
            conn, status = await _answered(conn, port, request.raw)
        except (OSError, asyncio.IncompleteReadError) as exc:
            sent.failed += 1
            sent.errors[type(exc).__name__] = sent.errors.get(type(exc).__name__, 0) + 1
            if conn is not None:
                conn.writer.close()
            conn = None
        else:
            sent.statuses[status] = sent.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                sent.answered[request.index] = time.perf_counter()
            else:
                sent.failed += 1
        idle.put_nowait(conn)

    try:
        await _open_loop(requests, rate, sent, send, time.perf_counter() + 0.05)
    finally:
        while not idle.empty():
            if (conn := idle.get_nowait()) is not None:
                conn.writer.close()


async def bare_open_loop(
    bootstrap: str,
    *,
    topic_of: dict[str, str],
    requests: Sequence[Request],
    rate: float,
    sent: Sent,
    on_topic: dict[int, float],
) -> None:
    """The same requests as messages (key, body) straight onto the topics they feed, with
    the receiver's producer settings (``acks=all``, idempotent, linger 5 ms); a consumer
    notes when each one can be read back (``on_topic``)."""
    producer = make_producer(bootstrap, client_id="bench-bare")
    consumer = make_consumer(
        bootstrap,
        *sorted(set(topic_of.values())),
        group_id=None,
        read_committed=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=100,
    )
    await producer.start()
    await consumer.start()
    await consumer.getmany(timeout_ms=500)  # positions it at the end before the load

    async def read() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                for record in records:
                    on_topic[int(dict(record.headers)["n"])] = now

    async def send(request: Request) -> None:
        try:
            done = await producer.send(
                topic_of[request.topic],
                request.body,
                key=request.key,
                headers=[("n", str(request.index).encode())],
            )
            await asyncio.wait_for(done, 30)
        except Exception:
            sent.failed += 1
        else:
            sent.answered[request.index] = time.perf_counter()

    reader = asyncio.create_task(read())
    try:
        await _open_loop(requests, rate, sent, send, time.perf_counter() + 0.05)
        deadline = time.perf_counter() + 10
        while len(on_topic) < len(sent.answered) and time.perf_counter() < deadline:  # noqa: ASYNC110 - counted by the reader task
            await asyncio.sleep(0.05)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await consumer.stop()
        await producer.stop()
