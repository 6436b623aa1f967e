"""``kitestream receiver [--host H] [--port P]``: serve the receiver with uvicorn.

Settings come from the environment (``KITESTREAM_*``, see ``settings.py``); the command
refuses to start, saying which variable to set, when ``KITESTREAM_BUILDKITE_TOKENS`` is
missing. SIGINT and SIGTERM stop it gracefully: no new connections, in-flight requests
finish, the spool drains while Kafka takes it, the producer flushes.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal

__all__ = ["add_arguments", "run"]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (8080)")


def run(args: argparse.Namespace) -> int:
    from services.receiver.errors import SettingsError
    from services.receiver.settings import load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        log.error("the receiver cannot start: %s", exc)
        return 2

    import uvicorn

    from services.receiver.app import create_app

    fast = importlib.util.find_spec("uvloop") is not None
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="on",
        log_config=None,  # keep the logging configured by the entrypoint
        access_log=False,  # refused requests are logged by the app, one line each
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_drain_s) + 10,
    )
    server = uvicorn.Server(config)
    # uvicorn handles SIGTERM gracefully, then re-raises it under the handler it found;
    # with this one the process exits 0 after a clean stop instead of dying by signal.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    server.run()
    return 0 if server.started else 1
