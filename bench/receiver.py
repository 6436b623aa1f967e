"""Receiver benchmark: signed ``build.finished`` webhooks (about 4 KB) through the whole
path to a Kafka ack (``acks=all``, idempotent), against a bare starlette endpoint that
reads the body and answers 202 without other work, in the same run, with the same load
generator and the same concurrency.

Load generator: the raw-socket asyncio HTTP/1.1 keep-alive client below, on uvloop, in
this process; each server runs in a subprocess under uvicorn. Two measurements each:

- after a warm-up, open loop: a fixed ``--rate`` (default 500 requests/s) for
  ``--duration`` seconds, latency measured from each request's *scheduled* time, so
  queueing counts (no coordinated omission): p50, p99;
- then closed loop: ``--concurrency`` connections send back to back for ``--duration``
  seconds: throughput, p50, p99.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS``, else the local broker (started, and stopped after,
when it does not run). Topics get a unique prefix and are deleted at the end.

    python bench/receiver.py                 # the default configuration (what make bench runs)
    python bench/receiver.py --matrix        # also asyncio/h11 and producer linger variants
    python bench/receiver.py --rounds 5      # five bare/receiver pairs and their medians
    python bench/receiver.py --no-kafka      # also the receiver with a link that acks at once
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from services.localkafka.broker import kafka_for_session

if TYPE_CHECKING:
    from services.receiver.frames import Outgoing
    from services.receiver.metrics import Metrics
    from services.receiver.settings import ReceiverSettings

log = logging.getLogger("bench.receiver")
TOKEN = "bench-webhook-token"  # noqa: S105 - a throwaway token for the benchmark


# -- the payload ---------------------------------------------------------------------


def build_finished(n: int) -> dict[str, Any]:
    """A ``build.finished`` webhook shaped like Buildkite's, about 4 KB."""
    slug = ("payments-api", "ledger", "checkout", "search")[n % 4]
    user = {
        "id": "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de",
        "name": "Keith Pitt",
        "email": "keith@example.com",
        "avatar_url": "https://www.gravatar.com/avatar/e14f55d3f939977cecbf51b64ff6f861",
        "created_at": "2015-05-22T12:36:45.309Z",
    }
    api = f"https://api.buildkite.com/v2/organizations/acme/pipelines/{slug}"
    return {
        "event": "build.finished",
        "build": {
            "id": str(uuid.UUID(int=n)),
            "graphql_id": "QnVpbGQtLS1mNjJhMWI0ZA==",
            "url": f"{api}/builds/{n}",
            "web_url": f"https://buildkite.com/acme/{slug}/builds/{n}",
            "number": n,
            "state": "failed" if n % 7 == 0 else "passed",
            "blocked": False,
            "message": "Retry card authorisations with jitter (#4821)",
            "commit": hashlib.sha1(str(n).encode(), usedforsecurity=False).hexdigest(),
            "branch": "main",
            "tag": None,
            "env": {"DEPLOY_ENV": "production"},
            "source": "webhook",
            "creator": user,
            "created_at": "2026-08-01T10:00:05.000Z",
            "scheduled_at": "2026-08-01T10:00:05.000Z",
            "started_at": "2026-08-01T10:00:09.000Z",
            "finished_at": "2026-08-01T10:08:41.000Z",
            "meta_data": {"release-version": "2026.08.01-3"},
            "pull_request": None,
        },
        "pipeline": {
            "id": "0188b9a4-5e3f-4b6a-9c39-3f6d0a8c1f11",
            "url": api,
            "web_url": f"https://buildkite.com/acme/{slug}",
            "name": slug,
            "slug": slug,
            "repository": f"git@github.com:acme/{slug}.git",
            "default_branch": "main",
            "provider": {
                "id": "github",
                "webhook_url": "https://webhook.buildkite.com/deliver/abcdef0123456789",
                "settings": {"trigger_mode": "code", "repository": f"acme/{slug}"},
            },
            "created_at": "2023-06-14T09:12:31.000Z",
            "tags": ["team-payments", "tier-1"],
            "steps": [
                {
                    "type": "script",
                    "name": f":pytest: tests {i}",
                    "command": "make test",
                    "key": f"tests-{i}",
                    "agent_query_rules": ["queue=default"],
                    "artifact_paths": "reports/**/*",
                    "timeout_in_minutes": 30,
                }
                for i in range(14)
            ],
        },
        "sender": {"id": user["id"], "name": user["name"]},
    }


def signed_requests(count: int) -> list[bytes]:
    """Raw HTTP/1.1 requests, each signed now (valid for the 300 s tolerance)."""
    stamp = str(int(time.time()))
    out = []
    for n in range(count):
        body = orjson.dumps(build_finished(n))
        mac = hmac.new(TOKEN.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        head = (
            "POST /webhooks/buildkite HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nX-Buildkite-Event: build.finished\r\n"
            f"X-Buildkite-Signature: timestamp={stamp},signature={mac}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


# -- the load generator --------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; ``request`` sends raw bytes, returns status."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    spooled: int = 0
    seconds: float = 0.0
    server_cpu_s: float = 0.0  # CPU the server's processes spent over the measurement

    @property
    def cpu_per_request_us(self) -> float:
        return self.server_cpu_s / len(self.latencies) * 1e6 if self.latencies else 0.0

    def note(self, latency: float, status: int, body: bytes) -> None:
        self.latencies.append(latency)
        self.statuses[status] += 1
        if b'"delivery":"spool"' in body:
            self.spooled += 1

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[int(q * 1000) - 1]


async def closed_loop(
    port: int,
    requests: list[bytes],
    concurrency: int,
    duration: float,
    warmup: float,
    *,
    server_pid: int = 0,
) -> Result:
    conns = [await Connection.open(port) for _ in range(concurrency)]
    result = Result()
    measure_from = time.perf_counter() + warmup
    end = measure_from + duration
    cpu_from: list[float] = []

    async def worker(conn: Connection, k: int) -> None:
        while time.perf_counter() < end:
            raw = requests[k % len(requests)]
            k += concurrency
            started = time.perf_counter()
            if started >= measure_from and not cpu_from:
                cpu_from.append(server_cpu_s(server_pid))
            status, body = await conn.request(raw)
            if started >= measure_from:
                result.note(time.perf_counter() - started, status, body)

    await asyncio.gather(*(worker(c, i) for i, c in enumerate(conns)))
    result.seconds = duration
    if cpu_from:
        # Requests started before ``end`` finish after it: their CPU is in, so are they.
        result.server_cpu_s = server_cpu_s(server_pid) - cpu_from[0]
    for conn in conns:
        conn.close()
    return result


async def open_loop(
    port: int, requests: list[bytes], rate: float, duration: float, pool: int = 64
) -> Result:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(await Connection.open(port))
    result = Result()

    async def one(scheduled: float, raw: bytes) -> None:
        conn = await idle.get()  # waiting for a free connection counts as latency
        status, body = await conn.request(raw)
        result.note(time.perf_counter() - scheduled, status, body)
        idle.put_nowait(conn)

    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
    start = time.perf_counter() + 0.2
    tasks = []
    for i in range(int(rate * duration)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, requests[i % len(requests)])))
    await asyncio.gather(*tasks)
    result.seconds = duration
    while not idle.empty():
        idle.get_nowait().close()
    return result


# -- servers -------------------------------------------------------------------------


class InstantLink:
    """A Kafka link whose every send is acked at once (the receiver's side of a send only)."""

    def __init__(self, settings: ReceiverSettings, _metrics: Metrics) -> None:
        self.bootstrap_servers = settings.bootstrap_servers
        self.kafka_up = True
        self.sent = 0

    @property
    def ready(self) -> bool:
        return True

    async def start(self, timeout_s: float = 5.0) -> bool:
        return True

    async def send(self, messages: Sequence[Outgoing], deadline_s: float) -> None:
        self.sent += len(messages)

    async def recover(self) -> None:
        """Nothing to reconnect to."""

    async def close(self) -> None:
        """Nothing to flush."""


def serve(kind: str, port: int, loop: str, http: str) -> None:
    """Child process: run one server until SIGTERM."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from services.common.logs import configure_logging

    configure_logging("text", "WARNING")
    if kind == "bare":

        async def accept(request: Request) -> Response:
            await request.body()
            return Response(b'{"status":"accepted"}', 202, media_type="application/json")

        app: Any = Starlette(routes=[Route("/webhooks/buildkite", accept, methods=["POST"])])
    else:
        from services.receiver.app import create_app
        from services.receiver.settings import load_settings

        settings = load_settings()
        # "instant": the receiver's own cost, with a Kafka link that acks at once
        app = create_app(settings, link=InstantLink) if kind == "instant" else create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop=loop, http=http, log_config=None, access_log=False
    )
    uvicorn.Server(config).run()


@contextlib.contextmanager
def server(
    kind: str, args: argparse.Namespace, env: dict[str, str], **over: str
) -> Iterator[tuple[int, int]]:
    """A server in a subprocess: (port, pid). ``receiver`` with ``workers`` above 1 is
    ``kitestream receiver --workers N`` itself (uvloop and httptools, as it picks)."""
    port = _free_port()
    loop, http = over.get("loop", args.loop), over.get("http", args.http)
    workers = int(over.get("workers", "1"))
    if kind == "receiver" and workers > 1:
        argv = [sys.executable, "-m", "services", "receiver", "--port", str(port)]
        argv += ["--workers", str(workers)]
    else:
        argv = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
        argv += ["--loop", loop, "--http", http]
    child_env = {**env, "KITESTREAM_LOG_LEVEL": "WARNING"}
    linger = over.get("linger_ms", None if args.linger_ms is None else str(args.linger_ms))
    if linger is not None:  # else the receiver's own default (KITESTREAM_LINGER_MS, 0)
        child_env["KITESTREAM_LINGER_MS"] = linger
    proc = subprocess.Popen(argv, env=child_env)
    try:
        _wait_listening(port, proc)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and of its children alive now (the
    workers of ``--workers``); 0 without a pid or /proc."""
    if not pid:
        return 0.0
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += server_cpu_s(int(child))
    except (OSError, ValueError, IndexError):
        pass
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


# -- the run -------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    closed: Result
    fixed: Result
    versus: Row | None = None  # the bare run this one is compared with
    kind: str = "receiver"  # what served it: a key of _NAMES
    round: int | None = None  # which of --rounds (None: a single or extra run)


async def measure(port: int, pid: int, args: argparse.Namespace) -> tuple[Result, Result]:
    requests = signed_requests(2000)
    await closed_loop(port, requests, args.concurrency, args.warmup, 0.0)  # warm-up, discarded
    fixed = await open_loop(port, requests, args.rate, args.duration)
    closed = await closed_loop(port, requests, args.concurrency, args.duration, 0.5, server_pid=pid)
    return closed, fixed


def run_one(
    kind: str,
    args: argparse.Namespace,
    env: dict[str, str],
    label: str = "",
    versus: Row | None = None,
    *,
    round_: int | None = None,
    **over: str,
) -> Row:
    with server(kind, args, env, **over) as (port, pid):
        closed, fixed = _run_async(measure(port, pid, args))
    name = f"{_NAMES[kind]} {label}".strip()
    return Row(name, closed, fixed, versus, kind, round_)


_NAMES = {"bare": "bare starlette", "receiver": "receiver → Kafka", "instant": "receiver, no Kafka"}


def _run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def report(rows: list[Row], args: argparse.Namespace) -> str:
    ms = 1000
    lines = [
        f"load generator: raw asyncio HTTP/1.1 keep-alive client (uvloop); after "
        f"{args.warmup:g} s warm-up, open loop {args.rate:g} req/s for {args.duration:g} s, "
        f"then {args.concurrency} connections closed loop for {args.duration:g} s",
        f"{'server':<44}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{f'@{args.rate:g}/s p50':>14}{'p99 ms':>9}{'CPU µs/req':>12}  answers",
    ]
    for row in rows:
        c, f = row.closed, row.fixed
        answers = dict(sorted((c.statuses + f.statuses).items()))
        spooled = c.spooled + f.spooled
        lines.append(
            f"{row.name:<44}{c.throughput:>9.0f}{c.quantile(0.5) * ms:>9.1f}"
            f"{c.quantile(0.99) * ms:>9.1f}{f.quantile(0.5) * ms:>14.1f}"
            f"{f.quantile(0.99) * ms:>9.1f}{c.cpu_per_request_us:>12.0f}  {answers}"
            + (f" spooled={spooled}" if spooled else "")
        )
    for row in rows:
        if row.versus is None:
            continue
        bare = row.versus
        lines.append(
            f"{row.name} vs {bare.name}: throughput ratio "
            f"{row.closed.throughput / bare.closed.throughput:.2f} (aim >= 0.3), "
            f"p99 at {args.rate:g} req/s {row.fixed.quantile(0.99) * ms:.1f} ms (aim < 50 ms), "
            f"server CPU per request {row.closed.cpu_per_request_us:.0f} µs against "
            f"{bare.closed.cpu_per_request_us:.0f} µs "
            f"(ratio {_ratio(bare.closed.cpu_per_request_us, row.closed.cpu_per_request_us)})"
        )
    for kind in ("receiver", "instant"):
        lines += _medians([r for r in rows if r.kind == kind and r.round is not None], args)
    return "\n".join(lines)


def _medians(rounds: list[Row], args: argparse.Namespace) -> list[str]:
    """The medians of the rounds' ratios to their bare runs (nothing for one round)."""
    compared = [(r, r.versus) for r in rounds if r.versus is not None]
    if len(compared) < 2:
        return []
    throughput = [r.closed.throughput / bare.closed.throughput for r, bare in compared]
    cpu = [
        bare.closed.cpu_per_request_us / r.closed.cpu_per_request_us
        for r, bare in compared
        if r.closed.cpu_per_request_us
    ]
    p99 = [r.fixed.quantile(0.99) * 1000 for r, _ in compared]
    return [
        f"{_NAMES[rounds[0].kind]}, medians over {len(compared)} rounds: throughput ratio "
        f"{statistics.median(throughput):.2f} (aim >= 0.3), p99 at {args.rate:g} req/s "
        f"{statistics.median(p99):.1f} ms (aim < 50 ms), CPU ratio "
        + (f"{statistics.median(cpu):.2f}" if cpu else "n/a")
    ]


def _ratio(bare: float, other: float) -> str:
    return f"{bare / other:.2f}" if bare and other else "n/a"


async def _topics(bootstrap: str, prefix: str, *, delete: bool = False) -> None:
    from services.common.topics import Topics, create_topics, delete_topics, topic_specs

    if delete:
        await delete_topics(bootstrap, prefix)
    else:
        await create_topics(bootstrap, topic_specs(Topics(prefix)), partitions=3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0, help="closed-loop warm-up seconds")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests/s")
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    parser.add_argument("--http", default="httptools", choices=["httptools", "h11"])
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=None,
        help="producer linger_ms (default: the receiver's own, as it ships: 0)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure bare and receiver this many times, one after the other, and add the "
        "medians of the rounds' ratios (on a shared machine one pair says little)",
    )
    parser.add_argument("--matrix", action="store_true", help="also try other loops and lingers")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also measure `kitestream receiver --workers N` (N above 1; CPU summed over workers)",
    )
    parser.add_argument(
        "--no-kafka",
        action="store_true",
        help="also measure the receiver with a Kafka link that acks at once (each round): "
        "what the receiver costs without the producer",
    )
    parser.add_argument("--serve", choices=sorted(_NAMES), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.loop, args.http)
        return 0

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    with kafka_for_session() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_topics(bootstrap, prefix))
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KITESTREAM_TOPIC_PREFIX": prefix,
            "KITESTREAM_BUILDKITE_TOKENS": TOKEN,
            "KITESTREAM_SPOOL_DIR": str(Path(tmp) / "spool"),
        }
        try:
            rows = []
            for n in range(max(1, args.rounds)):
                label = f"(round {n + 1})" if args.rounds > 1 else ""
                kinds = ("receiver", "instant") if args.no_kafka else ("receiver",)
                at = n if args.rounds > 1 else None
                bare = run_one("bare", args, env, label, round_=at)
                rows += [bare, *(run_one(k, args, env, label, bare, round_=at) for k in kinds)]
            if args.workers > 1:
                label = f"(--workers {args.workers})"
                rows.append(run_one("receiver", args, env, label, bare, workers=str(args.workers)))
            if args.matrix:
                label = "(asyncio, h11)"
                bare_slow = run_one("bare", args, env, label, loop="asyncio", http="h11")
                rows.append(bare_slow)
                rows.append(
                    run_one("receiver", args, env, label, bare_slow, loop="asyncio", http="h11")
                )
                for linger in ("5", "20"):
                    label = f"(linger_ms={linger})"
                    rows.append(run_one("receiver", args, env, label, bare, linger_ms=linger))
        finally:
            asyncio.run(_topics(bootstrap, prefix, delete=True))
    sys.stdout.write(report(rows, args) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
