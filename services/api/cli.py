"""``kitestream api [--host H] [--port P]``: serve the query API with uvicorn.

Reads the store's database (``KITESTREAM_DATABASE_URL``) and the catalog
(``KITESTREAM_CATALOG``). Bound to anything but loopback it refuses to start without
``KITESTREAM_READ_TOKENS`` (exit 2, saying so). SIGINT and SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal

__all__ = ["add_arguments", "run"]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "example: KITESTREAM_READ_TOKENS=$(openssl rand -hex 32) kitestream api --host 0.0.0.0; "
        "then curl -H 'Authorization: Bearer …' http://HOST:8090/api/v1/tests/flaky"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port to bind (8090)")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; a settings problem raises ``SettingsError`` (exit 2)."""
    from services.api.app import create_app
    from services.api.settings import check_exposure, read_settings

    settings = read_settings()
    check_exposure(args.host, settings)
    app = create_app(settings)

    import uvicorn

    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="on",
        log_config=None,  # keep the logging configured by the entrypoint
        access_log=False,  # the query strings are the users'; refusals are logged by the app
        server_header=False,
    )
    server = uvicorn.Server(config)
    # uvicorn stops gracefully on SIGTERM, then re-raises it under the handler it found;
    # with this one the process exits 0 after a clean stop instead of dying by signal.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    server.run()
    return 0 if server.started else 1
