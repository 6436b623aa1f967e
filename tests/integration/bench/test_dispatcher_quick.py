"""``python -m bench --quick dispatcher`` delivers every alert through the dispatcher and
through the bare loop, on a real broker, and reports both.

Nothing here looks at how fast: only that the run completes and its report has its shape.
"""

from __future__ import annotations

import re

from tests.integration.bench.quick import run_quick

ROUND = re.compile(
    r"round 1: bare [\d,]+/s \([\d,]+ µs CPU an alert\), dispatcher [\d,]+/s \([\d,]+ µs\); "
    r"throughput ratio [\d.]+, CPU [\d.]+x"
)


def test_the_quick_dispatcher_benchmark_reports_a_round_and_its_medians(
    kafka_bootstrap: str,
) -> None:
    out = run_quick("dispatcher", kafka_bootstrap, timeout_s=180)
    assert "200 alerts of 40 services on 3 partitions" in out
    assert ROUND.search(out), out
    assert re.search(r"median: dispatcher [\d,]+ µs CPU an alert", out), out
