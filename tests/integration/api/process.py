"""``kitestream api`` (and other kitestream commands) as subprocesses for the tests."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

__all__ = ["ROOT", "api_process", "started"]

ROOT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``kitestream ARGV`` running with ``env``, output in ``log``; SIGTERM at the end,
    which it must obey within 30 s."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", *argv],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{argv[0]} ignored SIGTERM:\n{log.read_text()}") from None


@contextlib.contextmanager
def api_process(
    env: dict[str, str], port: int, log: Path, host: str = "127.0.0.1"
) -> Iterator[str]:
    """A running query API; yields its base URL (always reached through 127.0.0.1)."""
    with started(["api", "--host", host, "--port", str(port)], env, log) as proc:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    assert "Traceback" not in log.read_text(), log.read_text()
