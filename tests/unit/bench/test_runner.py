"""``python -m bench`` lists the benchmark scripts, and only them, and builds their commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.runner import BENCHMARKS, command, parse_args

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _is_script(path: Path) -> bool:
    return 'if __name__ == "__main__":' in path.read_text() and path.name != "__main__.py"


def test_the_runner_lists_every_benchmark_script_and_nothing_else() -> None:
    scripts = {p.stem for p in BENCH.glob("*.py") if _is_script(p)}
    assert set(BENCHMARKS) == scripts
    assert {"__init__", "__main__", "runner", "mixedload", "rig"}.isdisjoint(BENCHMARKS)


def test_every_benchmark_has_a_quick_form_and_a_summary() -> None:
    for benchmark in BENCHMARKS.values():
        assert benchmark.quick, benchmark.name
        assert benchmark.summary, benchmark.name


def test_a_quick_run_passes_the_benchmarks_small_sizes_then_the_users_arguments() -> None:
    system = BENCHMARKS["system"]
    assert command(system, quick=False) == [sys.executable, "-m", "bench.system"]
    assert command(system, quick=True, extra=["--rate", "300"]) == [
        sys.executable,
        "-m",
        "bench.system",
        "--quick",
        "--rate",
        "300",
    ]


def test_arguments_after_a_double_dash_go_to_the_one_benchmark_named() -> None:
    args = parse_args(["system", "--", "--rate", "300"])
    assert args.names == ["system"]
    assert args.extra == ["--rate", "300"]
    assert parse_args(["--quick"]).names == []


@pytest.mark.parametrize(
    "argv", [["nosuch"], ["__init__"], ["system", "store", "--", "--rate", "3"], ["--", "-x"]]
)
def test_unknown_benchmarks_and_stray_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
