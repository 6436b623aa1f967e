"""The real ``bktec`` (Buildkite's test engine client) pointed at kitestream by its
base-URL setting: ``bktec run`` leaves out the skipped test, runs the muted one and
passes the build although it fails; unmuted, the build fails.

bktec is a Go program, built here (never in this repository) with ``go install
github.com/buildkite/test-engine-client/v3@VERSION`` into a cache under the system's
temporary directory, or taken from ``$KITESTREAM_BKTEC`` (a binary built elsewhere).
The test skips, saying why, when neither works (no ``go``, or the module proxy refuses
a dependency: see docs/quarantine.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.quarantine.conftest import Stack
from tests.unit.receiver.clients import SUITES

VERSION = "v3.0.0"

SUITE = """
def test_ok():
    assert 1 + 1 == 2

def test_wobbly():
    assert 0.1 + 0.2 == 0.3, "wobbly failed again"

def test_hangs():
    raise RuntimeError("a skipped test must not run")
"""


@pytest.fixture(scope="session")
def bktec() -> Path:
    """A ``bktec`` binary, or a skip that says why there is none."""
    given = os.environ.get("KITESTREAM_BKTEC")
    if given:
        if not Path(given).is_file():
            pytest.skip(f"KITESTREAM_BKTEC={given} is not a file")
        return Path(given)
    target = Path(tempfile.gettempdir()) / f"kitestream-bktec-{VERSION}"
    binary = target / "bktec"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        pytest.skip("`go` is not installed: bktec (a Go module) cannot be built here")
    built = subprocess.run(
        [go, "install", f"github.com/buildkite/test-engine-client/v3@{VERSION}"],
        env={**os.environ, "GOBIN": str(target)},
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    if built.returncode != 0 or not (target / "test-engine-client").is_file():
        said = " ".join(line.strip() for line in built.stderr.strip().splitlines()[-2:])
        pytest.skip(f"bktec {VERSION} could not be built with go install: {said[-300:]}")
    (target / "test-engine-client").rename(binary)
    return binary


def _run(binary: Path, workdir: Path, stack: Stack, build: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUILDKITE", "KITESTREAM"))}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "BUILDKITE_TEST_ENGINE_BASE_URL": stack.api,
        # the collector bktec's pytest runs with uploads to kitestream's receiver
        "BUILDKITE_ANALYTICS_TOKEN": SUITES["payments-pytest"],
        "BUILDKITE_ANALYTICS_API_URL": f"{stack.receiver}/v1",
        "BUILDKITE_TEST_ENGINE_API_ACCESS_TOKEN": SUITES["payments-pytest"],
        "BUILDKITE_ORGANIZATION_SLUG": "acme",
        "BUILDKITE_TEST_ENGINE_SUITE_SLUG": "payments-pytest",
        "BUILDKITE_TEST_ENGINE_TEST_RUNNER": "pytest",
        "BUILDKITE_BUILD_ID": build,
        "BUILDKITE_STEP_ID": "pytest-step",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(binary), "run"], cwd=workdir, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


async def test_bktec_run_honours_kitestreams_muted_and_skipped_tests(
    bktec: Path, stack: Stack, tmp_path: Path
) -> None:
    workdir = tmp_path / "suite"
    workdir.mkdir()
    (workdir / "pytest.ini").write_text("[pytest]\n")
    (workdir / "test_sample.py").write_text(SUITE)
    for name, state, reason in (("test_wobbly", "muted", "float maths"),
                                ("test_hangs", "skipped", "hangs on arm64")):  # fmt: skip
        answer = stack.change(suite="payments-pytest", scope="test_sample.py", name=name,
                              state=state, reason=reason, by="alice")  # fmt: skip
        assert answer.status_code == 202, answer.text
    await stack.wait_listed(2)

    passed = await asyncio.to_thread(_run, bktec, workdir, stack, "build-1")
    out = passed.stdout + passed.stderr
    assert passed.returncode == 0, out
    assert "Build passed. Some muted tests failed." in out
    assert "Skipped by Test Engine:" in out
    assert "test_sample.py test_hangs" in out
    assert "a skipped test must not run" not in out
    assert "wobbly failed again" in out  # the muted test ran, and failed
    assert "Falling back" not in out  # kitestream's plan was used

    answer = stack.change(suite="payments-pytest", scope="test_sample.py", name="test_wobbly",
                          state="active", reason="fixed", by="bob")  # fmt: skip
    assert answer.status_code == 202, answer.text
    await stack.wait_listed(1)
    failed = await asyncio.to_thread(_run, bktec, workdir, stack, "build-2")
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0, out
    assert "Some tests failed." in out
    assert "a skipped test must not run" not in out
