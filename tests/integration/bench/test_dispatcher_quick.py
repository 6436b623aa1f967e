"""``python -m bench --quick dispatcher`` delivers every alert through the dispatcher and
through the bare loop, on a real broker, and reports both.

Nothing here looks at how fast: only that the run completes and its report has its shape.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ROUND = re.compile(
    r"round 1: bare [\d,]+/s \([\d,]+ µs CPU an alert\), dispatcher [\d,]+/s \([\d,]+ µs\); "
    r"throughput ratio [\d.]+, CPU [\d.]+x"
)


def test_the_quick_dispatcher_benchmark_reports_a_round_and_its_medians(
    kafka_bootstrap: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "dispatcher"],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "200 alerts of 40 services on 3 partitions" in done.stdout
    assert ROUND.search(done.stdout), done.stdout
    assert re.search(r"median: dispatcher [\d,]+ µs CPU an alert", done.stdout), done.stdout
