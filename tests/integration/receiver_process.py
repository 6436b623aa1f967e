"""``kitestream receiver`` as a subprocess: started on a port with its log in a file,
and waited for until it answers. ``receiver_url`` (tests/integration/conftest.py) and
the SIGKILL test of the spool both start it this way."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.common.topics import Topics


def receiver_process_env(
    bootstrap: str, topics: Topics, spool_dir: Path, settings: dict[str, str]
) -> dict[str, str]:
    """This process's environment with the receiver's broker, topics, spool and
    ``settings``; logs as JSON lines."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KITESTREAM_TOPIC_PREFIX": topics.prefix,
        "KITESTREAM_SPOOL_DIR": str(spool_dir),
        "KITESTREAM_LOG_FORMAT": "json",
        **settings,
    }


def start_receiver(
    env: dict[str, str], port: int, log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """``python -m services receiver --port PORT ARGS…`` with ``env``, its output appended
    to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services", "receiver", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until_up(
    url: str, proc: subprocess.Popen[bytes], log: Path, path: str = "/readyz"
) -> None:
    """Return once ``GET url+path`` answers 200; fail with the log when the process
    ends first or 60 s pass (two workers took more than 30 s to start on a loaded CI
    machine)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}{path}").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the receiver did not come up:\n{log.read_text()}"
        time.sleep(0.1)
