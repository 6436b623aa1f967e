"""The mypyc-compiled modules and their pure-Python sources give identical outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.compiled import (
    COMPILED,
    PURE_PYTHON_ENV,
    can_compile,
    pure_python_requested,
)

ROOT = Path(__file__).parents[3]


def run(pure: bool, out: Path) -> dict[str, Any]:
    env = {**os.environ, PURE_PYTHON_ENV: "1" if pure else "0"}
    argv = [sys.executable, "-m", "tests.unit.flakiness.both_builds", str(out)]
    subprocess.run(argv, env=env, cwd=ROOT, check=True, timeout=240)
    report: dict[str, Any] = orjson.loads(out.read_bytes())
    return report


def test_the_compiled_and_the_pure_modules_give_identical_outputs_on_one_stream(
    tmp_path: Path,
) -> None:
    pure = run(True, tmp_path / "pure.json")
    compiled = run(False, tmp_path / "compiled.json")
    assert pure["compiled"] == []
    assert len(pure["outputs"]) > 1000
    for n, (a, b) in enumerate(zip(pure["outputs"], compiled["outputs"], strict=False)):
        assert a == b, f"output {n} differs"
    assert len(pure["outputs"]) == len(compiled["outputs"])
    if not can_compile():
        pytest.skip("no compiled build here (no mypyc or C compiler): both runs were pure")
    assert compiled["compiled"] == list(COMPILED), "not compiled, or stale: run make install"


@pytest.mark.parametrize(
    ("value", "pure"), [("1", True), ("yes", True), ("0", False), ("", False), ("false", False)]
)
def test_pure_python_is_asked_for_by_a_true_value(value: str, pure: bool) -> None:
    assert pure_python_requested({PURE_PYTHON_ENV: value}) is pure
