"""``python -m bench --quick NAME`` in a child process, on the test session's broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_quick(name: str, bootstrap: str, *, timeout_s: float) -> str:
    """The benchmark's output; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", name],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
