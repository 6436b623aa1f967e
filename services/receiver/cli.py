"""``kitestream receiver [--host H] [--port P] [--workers N|auto]``: serve the receiver
with uvicorn, in one process or in N (:mod:`services.receiver.workers`).

Settings come from the environment (``KITESTREAM_*``, see ``settings.py``); the command
refuses to start, saying which variable to set, when ``KITESTREAM_BUILDKITE_TOKENS`` is
missing. SIGINT and SIGTERM stop it gracefully: no new connections, in-flight requests
finish, the spool drains while Kafka takes it, the producer flushes; with workers, the
supervisor passes the signal to each and waits for them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run", "worker_app"]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (8080)")
    parser.add_argument(
        "--workers",
        metavar="N|auto",
        help="processes sharing the port, each with its own spool under "
        "KITESTREAM_SPOOL_DIR/<n> (KITESTREAM_RECEIVER_WORKERS, else 1; auto: one per core)",
    )


def run(args: argparse.Namespace) -> int:
    from services.receiver.errors import SettingsError
    from services.receiver.settings import load_settings
    from services.receiver.workers import parse_workers

    if args.workers is not None:
        try:
            workers = parse_workers(args.workers)
        except ValueError:
            log.error("the receiver cannot start: --workers takes a number (1-256) or auto")
            return 2
        # The workers read their settings from the environment, this one included.
        os.environ["KITESTREAM_RECEIVER_WORKERS"] = str(workers)
    try:
        settings = load_settings()
    except SettingsError as exc:
        log.error("the receiver cannot start: %s", exc)
        return 2

    import uvicorn

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "lifespan": "on",
        "log_config": None,  # keep the logging configured by the entrypoint
        "access_log": False,  # refused requests are logged by the app, one line each
        "server_header": False,
        "timeout_graceful_shutdown": int(settings.shutdown_drain_s) + 10,
    }
    if settings.receiver_workers > 1:
        log.info(
            "starting %d receiver workers on %s:%d, spools under %s",
            settings.receiver_workers,
            args.host,
            args.port,
            settings.spool_dir,
        )
        # uvicorn's supervisor: one socket for all, a new worker for each that dies,
        # SIGTERM/SIGINT passed on to every worker.
        with shared_metrics_dir():
            uvicorn.run(
                f"{__name__}:worker_app", factory=True, workers=settings.receiver_workers, **options
            )
        return 0

    from services.receiver.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), **options))
    # uvicorn handles SIGTERM gracefully, then re-raises it under the handler it found;
    # with this one the process exits 0 after a clean stop instead of dying by signal.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    server.run()
    return 0 if server.started else 1


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """Where the workers write their metrics (``PROMETHEUS_MULTIPROC_DIR``, set here for
    them before they start): the variable's directory when it is set, emptied of an
    earlier run's files, else a temporary one removed at the end."""
    from services.receiver.metrics import MULTIPROC_ENV

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="kitestream-receiver-metrics-") as made:
        os.environ[MULTIPROC_ENV] = made
        try:
            yield Path(made)
        finally:
            del os.environ[MULTIPROC_ENV]


def worker_app() -> Any:
    """The app of one worker process (uvicorn imports and calls this in each): logging as
    the entrypoint sets it, settings from the environment."""
    from services.common.logs import configure_logging
    from services.receiver.app import create_app
    from services.receiver.settings import load_settings

    configure_logging(
        os.environ.get("KITESTREAM_LOG_FORMAT", "auto"),
        os.environ.get("KITESTREAM_LOG_LEVEL", "INFO"),
    )
    return create_app(load_settings())
