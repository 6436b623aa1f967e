"""``python -m bench --quick system`` runs the whole system end to end on a real broker and
reports every figure; the alerts of its stories reach both the topic and the sink.

Nothing here looks at how fast: only that the run completes and its report has its shape.
"""

from __future__ import annotations

import re

from tests.integration.bench.quick import run_quick

ALERTS = re.compile(r"alerts: (\d+) expected, (\d+) on topic, (\d+) at the sink, (\d+) dup")
LATENCY_ROWS = (
    "bare produce -> ack",
    "bare produce -> on topic",
    "system: request -> 202",
    "system: request -> alert on topic",
    "system: request -> alert at sink",
    "of which alert on topic -> sink",
)


def test_the_quick_system_benchmark_gets_every_alert_to_the_topic_and_the_sink(
    kafka_bootstrap: str,
) -> None:
    out = run_quick("system", kafka_bootstrap, timeout_s=240)
    assert "== bench.system: -m bench.system --quick" in out
    counts = ALERTS.search(out)
    assert counts is not None, out
    expected, on_topic, at_sink, duplicates = map(int, counts.groups())
    assert expected > 0
    assert on_topic == at_sink == expected
    assert duplicates == 0
    for label in LATENCY_ROWS:
        row = re.search(rf"{re.escape(label)}\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(\d+)", out)
        assert row is not None, (label, out)
        assert int(row.group(4)) > 0
    assert re.search(r"highest rate held: bare .*/s, system .*/s", out), out
    # --quick runs two rounds: each has its row, every alert of both reached the sink
    rounds = re.findall(r"^  ([12]) .* (\d+)/(\d+)\s+0\s+0$", out, re.MULTILINE)
    assert [r[0] for r in rounds] == ["1", "2"], out
    assert all(r[1] == r[2] != "0" for r in rounds), out
    assert "medians of the rounds' p99" in out
