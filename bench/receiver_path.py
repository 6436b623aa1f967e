"""The receiver's request path in-process, for counting and profiling its work: signed
``build.finished`` webhooks (the payloads of :mod:`bench.receiver`) sent as direct ASGI
calls to :func:`~services.receiver.app.create_app` (lifespan, middleware, routing and
all), 32 at a time, with a Kafka link that acks at once. No HTTP server, no sockets, no
broker: what is left is the receiver's own Python per request. ``--kafka BOOTSTRAP``
puts the real producer behind it instead (topics made and deleted).

    python -m bench.receiver_path                      # µs of CPU per request, best of 5
    python -m bench.receiver_path --profile            # the top of a cProfile, by own time
    valgrind --tool=callgrind --callgrind-out-file=cg.1000 \\
        python -m bench.receiver_path --count 1000 --rounds 1 --receiver-only
    # the same with --count 3000; instructions per request = (Ir 3000 - Ir 1000) / 2000

The same run times a bare ASGI handler that reads the body and answers 202 (the bare
starlette endpoint of :mod:`bench.receiver`), so the ratio of the two is printed too.

    python -m bench.receiver_path --normalise          # normalise alone: models vs reader

times :func:`~services.receiver.events.normalise` on 2,000 ``build.finished`` payloads
(decoded, as orjson gives them) through the edge models and through the webhook reader,
rounds of the two interleaved, and prints the best round of each in µs per payload.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.receiver import TOKEN, InstantLink, signed_requests
from services.common.topics import Topics, create_topics, delete_topics, topic_specs
from services.receiver.app import create_app
from services.receiver.settings import ReceiverSettings

Message = MutableMapping[str, Any]
App = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]


def scopes(count: int) -> list[tuple[dict[str, Any], bytes]]:
    """ASGI scopes and bodies of :func:`bench.receiver.signed_requests`."""
    out = []
    for raw in signed_requests(count):
        head, body = raw.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        method, path, _ = lines[0].split(b" ")
        headers = [
            (name.strip().lower(), value.strip())
            for name, value in (line.split(b":", 1) for line in lines[1:])
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8080),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method.decode(),
            "root_path": "",
            "path": path.decode(),
            "raw_path": path,
            "query_string": b"",
            "headers": headers,
            "state": {},
        }
        out.append((scope, body))
    return out


async def call(app: App, scope: dict[str, Any], body: bytes) -> int:
    """One request through ``app``; its status."""
    sent = False
    status = 0

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a disconnect wait; the request is over by then
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def bare(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """The bare endpoint as starlette runs it, minus routing: read the body, answer 202."""
    from starlette.requests import Request
    from starlette.responses import Response

    request = Request(scope, receive)
    await request.body()
    await Response(b'{"status":"accepted"}', 202, media_type="application/json")(
        scope, receive, send
    )


async def concurrently(app: App, requests: list[tuple[dict[str, Any], bytes]], count: int) -> int:
    """``count`` requests from ``CONCURRENCY`` tasks at once (a real producer batches the
    messages of concurrent requests); the last status."""
    status = 0

    async def worker(k: int) -> None:
        nonlocal status
        while k < count:
            status = await call(app, *requests[k % len(requests)])
            k += CONCURRENCY

    await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
    return status


CONCURRENCY = 32


async def run(args: argparse.Namespace) -> None:
    requests = scopes(min(args.count, 2000))
    with tempfile.TemporaryDirectory() as tmp:
        settings = ReceiverSettings(
            buildkite_tokens=[SecretStr(TOKEN)],
            spool_dir=Path(tmp) / "spool",
            bootstrap_servers=args.kafka or "127.0.0.1:1",
            topic_prefix=f"benchpath{uuid.uuid4().hex[:8]}.",
        )
        if args.kafka:
            await create_topics(
                args.kafka, topic_specs(Topics(settings.topic_prefix)), partitions=3
            )
            app = create_app(settings)
        else:
            app = create_app(settings, link=InstantLink)
        try:
            await measure(app, requests, args)
        finally:
            if args.kafka:
                await delete_topics(args.kafka, settings.topic_prefix)


async def measure(
    app: Any, requests: list[tuple[dict[str, Any], bytes]], args: argparse.Namespace
) -> None:
    async with app.router.lifespan_context(app):
        assert await call(app, *requests[0]) == 202
        await concurrently(app, requests, min(args.count, 500))  # warm-up
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await concurrently(app, requests, args.count)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats(args.sort).print_stats(args.top)
            return
        best = {"receiver": float("inf"), "bare": float("inf")}
        for _ in range(args.rounds):
            for name, target in (("receiver", app), ("bare", bare)):
                if args.receiver_only and name == "bare":
                    continue
                started = time.process_time()
                status = await concurrently(target, requests, args.count)
                assert status == 202, status
                best[name] = min(best[name], (time.process_time() - started) / args.count)
        us = {k: v * 1e6 for k, v in best.items()}
        if args.receiver_only:
            sys.stdout.write(f"CPU per request: receiver {us['receiver']:.1f} µs\n")
            return
        sys.stdout.write(
            f"CPU per request, best of {args.rounds} rounds of {args.count}: "
            f"receiver {us['receiver']:.1f} µs, bare {us['bare']:.1f} µs "
            f"(ratio {us['bare'] / us['receiver']:.2f})\n"
        )


def normalise_rounds(count: int, rounds: int) -> None:
    """µs per payload of ``normalise``'s two readers, best of ``rounds`` interleaved."""
    from datetime import UTC, datetime

    from bench.receiver import build_finished
    from services.receiver import events

    payloads = [build_finished(n) for n in range(count)]
    at = datetime.now(UTC)
    readers = {"models": events._build_event, "reader": events.normalise}
    best = dict.fromkeys(readers, float("inf"))
    for _ in range(rounds):
        for name, read in readers.items():
            started = time.perf_counter()
            for payload in payloads:
                read("build.finished", payload, at)
            best[name] = min(best[name], (time.perf_counter() - started) / count * 1e6)
    models, reader = best["models"], best["reader"]
    sys.stdout.write(
        f"normalise, best of {rounds} rounds of {count} build.finished payloads: "
        f"models {models:.1f} µs, reader {reader:.1f} µs "
        f"(saved {models - reader:.1f} µs, ratio {reader / models:.2f})\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--count", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (best one reported)")
    parser.add_argument(
        "--kafka",
        metavar="BOOTSTRAP",
        help="the real producer to this broker (topics made and deleted) instead of instant acks",
    )
    parser.add_argument(
        "--receiver-only", action="store_true", help="no bare rounds (for callgrind)"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile instead")
    parser.add_argument(
        "--normalise",
        action="store_true",
        help="time normalise alone instead: edge models vs webhook reader (2000 payloads)",
    )
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--top", type=int, default=40, help="cProfile rows")
    args = parser.parse_args()
    if args.normalise:
        normalise_rounds(min(args.count, 2000), args.rounds)
        return 0
    try:
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
