"""Test plan balance: kitestream's split by duration (LPT) against the naive one.

    .venv/bin/python bench/testsplit.py [--suites 20] [--seed 7]

No timing: each suite (seeded, so every run prints the same) has 30 to 120 test files
of 1 to 40 tests each, test durations log-normal (median 0.2 s, a few over 30 s), and
a tenth of its tests new (no duration known yet). For 2, 4, 8 and 16 nodes the script
splits the files the way ``bktec`` would receive them from kitestream
(:func:`services.quarantine.testplan.split`), by duration and round-robin in sorted
order (what bktec's own fallback does, and what kitestream does with no durations),
and prints the makespan (the busiest node's total) over the ideal (total / nodes),
1.00 being perfect: the median and worst over the suites, and the ratio naive / LPT.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from typing import Any

from services.quarantine.testplan import Durations, split


def _suite(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, float], Durations]:
    cases: list[dict[str, Any]] = []
    true: dict[str, float] = {}
    rows: list[tuple[str, str, str | None, float]] = []
    for f in range(rng.randint(30, 120)):
        path = f"tests/test_{f:03d}.py"
        cases.append({"format": "file", "path": path})
        total = 0.0
        for t in range(rng.randint(1, 40)):
            seconds = rng.lognormvariate(-1.6, 1.6)
            total += seconds
            if rng.random() >= 0.1:  # a tenth are new: the store knows no duration
                rows.append((path, f"test_{t}", path, seconds))
        true[path] = total
    return cases, true, Durations.of(rows)


def _makespan(tasks: list[list[dict[str, Any]]], true: dict[str, float]) -> float:
    loads = [sum(true[c["path"]] for c in task) for task in tasks]
    ideal = sum(loads) / len(loads)
    return max(loads) / ideal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--suites", type=int, default=20, help="suites to split (20)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)  # a benchmark's data, not a secret
    suites = [_suite(rng) for _ in range(args.suites)]
    out = sys.stdout
    out.write("nodes  naive median  naive worst  LPT median  LPT worst  naive/LPT (median)\n")
    for nodes in (2, 4, 8, 16):
        naive = [_makespan(split(cases, nodes), true) for cases, true, _ in suites]
        lpt = [_makespan(split(cases, nodes, known), true) for cases, true, known in suites]
        ratio = statistics.median(n / m for n, m in zip(naive, lpt, strict=True))
        out.write(
            f"{nodes:5d}  {statistics.median(naive):12.2f}  {max(naive):11.2f}  "
            f"{statistics.median(lpt):10.2f}  {max(lpt):9.2f}  {ratio:18.2f}\n"
        )
    out.write("(makespan / ideal: 1.00 is a perfect split; no wall-clock time is measured)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
