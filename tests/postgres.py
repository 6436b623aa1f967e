"""A real PostgreSQL server for the store's tests, in order of preference.

1. ``KITESTREAM_TEST_POSTGRES_URL`` when set (``tests.session`` sets it for its workers);
2. ``KITESTREAM_DATABASE_URL`` when it names a PostgreSQL server;
3. a throw-away cluster of Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``)
   in a temporary directory, on a port of its own, started here and stopped (and
   deleted) at the end. ``initdb`` and ``postgres`` refuse to run as root: as root the
   cluster runs as the ``postgres`` user (made by the package), the processes started
   with that user directly (not through ``runuser``, which would leave the server
   running when it is itself stopped). The server is stopped with a fast shutdown and
   waited for before its directory goes.

Each test gets a database of its own on that server (:func:`fresh_database`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.ports import free_port

__all__ = ["POSTGRES_URL_ENV", "fresh_database", "postgres_server", "postgres_url_from_env"]

POSTGRES_URL_ENV = "KITESTREAM_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    pass


def postgres_url_from_env() -> str | None:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    url = os.environ.get("KITESTREAM_DATABASE_URL", "")
    return url if url.startswith(("postgresql", "postgres:")) else None


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresUnavailable(
            "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that run a process as ``postgres`` (user, group, no root's
    supplementary groups) when we are root; none otherwise."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server (its ``postgres`` database) for this session."""
    url = postgres_url_from_env()
    if url:
        yield url
        return
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="kitestream-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        root.chmod(0o755)
    port = free_port()
    log_file = root / "server.log"
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                str(bindir / "initdb"),
                *("-D", str(data), "-U", "kitestream", "--auth=trust", "--no-sync", "-E", "UTF8"),
            ],
            check=True,
            capture_output=True,
            **_as_postgres(),
            cwd=root,
        )
        with open(log_file, "wb") as log:
            server = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    *("-D", str(data), "-p", str(port), "-k", str(sockets)),
                    *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"),
                    *("-c", "fsync=off", "-c", "synchronous_commit=off"),
                    *("-c", "full_page_writes=off"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **_as_postgres(),
                cwd=root,
                start_new_session=True,  # Ctrl-C in the terminal reaches the tests, not it
            )
        url = f"postgresql+psycopg://kitestream@127.0.0.1:{port}/postgres"
        _wait_until_ready(url, server, log_file)
        yield url
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fast shutdown
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(url: str, server: subprocess.Popen[bytes], log_file: Path) -> None:
    engine = sa.create_engine(url)
    deadline = time.monotonic() + 60
    try:
        while True:
            if server.poll() is not None:
                raise PostgresUnavailable(f"postgres exited: {log_file.read_text()[-2000:]}")
            try:
                with engine.connect():
                    return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
