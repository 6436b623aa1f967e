"""``python -m tests.unit.flakiness.both_builds OUT``: one fixed stream through the
flakiness task, every output written to ``OUT`` (JSON), to compare the compiled and the
pure-Python modules (run once with ``KITESTREAM_PURE_PYTHON=1``, once without).

The stream: the known flaky projects of :mod:`tests.unit.flakiness.stream` (test
results and jobs, flags raised and cleared), then a long stream in the benchmark's
shape (full windows pushing out their oldest executions, reruns, a value of an unusual
shape now and then); a restart from the changelog half-way; batches of uneven sizes;
and a tiny changelog configuration so that segments are cleaned all the time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from bench.flakiness import results
from services.common.processor import BatchStep, Output, Record
from services.common.topics import Topics
from services.compiled import compiled_modules
from services.flakiness.settings import FlakinessSettings
from services.flakiness.task import FlakinessTask, FlakinessTopics
from tests.unit.flakiness.replay import tiny_changelog
from tests.unit.flakiness.stream import CLEAR_AFTER_RUNS, Project, project_stream

NAMES = FlakinessTopics.under(Topics("t."))
CONFIG = FlakinessSettings(clear_after_runs=CLEAR_AFTER_RUNS, window_size=20)


def stream() -> list[Record]:
    topic = {"results": NAMES.results, "jobs": NAMES.jobs}
    inputs = [
        (topic[i.topic], i.value)
        for p in (Project("pytest", "payments-api"), Project("jest", "web"))
        for i in project_stream(p)
    ]
    for n, value in enumerate(results(6_000, tests=40, seed=11)):
        if n % 997 == 0:  # an unusual shape: read by the tolerant path
            data = orjson.loads(value)
            data["attempt"] = float(data["attempt"])
            inputs.append((NAMES.results, orjson.dumps(data)))
        else:
            inputs.append((NAMES.results, value))
    return [Record(t, 0, n, b"k", v, 0) for n, (t, v) in enumerate(inputs)]


def outputs() -> list[Output]:
    step = BatchStep(service="flakiness", dlq_topic=NAMES.dlq, changelog_topic=NAMES.changelog)
    records = stream()
    task = FlakinessTask(0, NAMES, CONFIG, tiny_changelog())
    out: list[Output] = []
    start, size, restarted = 0, 1, False
    while start < len(records):
        if start >= len(records) // 2 and not restarted:  # restart from the changelog
            log = [(o.key or b"", o.value) for o in out if o.topic == NAMES.changelog]
            task, restarted = FlakinessTask(0, NAMES, CONFIG, tiny_changelog()), True
            for key, value in log:
                task.restore(key, value)
        out += step.run({0: task}, records[start : start + size])
        start, size = start + size, size * 3 % 700 + 1
    return out


def main(path: str) -> int:
    found = [[o.topic, o.key, o.value, o.partition] for o in outputs()]
    report = {"compiled": compiled_modules(), "outputs": found}
    Path(path).write_bytes(orjson.dumps(report, default=lambda b: b.decode()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
