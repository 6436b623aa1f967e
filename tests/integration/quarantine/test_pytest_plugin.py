"""The pytest plugin on a real pytest run (a subprocess over a generated test file),
against a real stack: a test muted through the API still runs and fails, the run
passes, and Buildkite's collector still uploads the failure (read back from Kafka);
unmuted (with ``kitestream tests unmute``), the run fails. A skipped test is not run.
With kitestream unreachable, the run goes on unchanged and says so once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson

from services.common.topics import Topic, Topics
from tests.integration.api.process import ROOT
from tests.integration.ingest.conftest import read_topic
from tests.integration.quarantine.conftest import READ_TOKEN, WRITE_TOKEN, Stack
from tests.ports import free_port
from tests.unit.receiver.clients import SUITES

SUITE = """
def test_ok():
    assert 1 + 1 == 2

def test_wobbly():
    assert 0.1 + 0.2 == 0.3, "wobbly failed again"

def test_hangs():
    raise RuntimeError("a skipped test must not run")
"""


def _pytest(
    workdir: Path, stack_api: str, receiver: str, build: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BUILDKITE", "PYTEST", "KITESTREAM"))
    }
    env |= {
        "KITESTREAM_URL": stack_api,
        "KITESTREAM_SUITE_TOKEN": SUITES["payments-pytest"],
        "BUILDKITE_ANALYTICS_TOKEN": SUITES["payments-pytest"],
        "BUILDKITE_ANALYTICS_API_URL": f"{receiver}/v1",
        "BUILDKITE_BUILD_ID": build,
        "BUILDKITE_BUILD_NUMBER": "7",
        "BUILDKITE_BRANCH": "main",
        "BUILDKITE_COMMIT": "4f3c2a1b",
        "BUILDKITE_JOB_ID": f"{build}-job",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "services.quarantine.pytest_plugin",
         "-p", "no:cacheprovider", "-rx", f"--junit-xml={workdir / build}.xml", str(workdir)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def _suite(tmp_path: Path) -> Path:
    workdir = tmp_path / "suite"
    workdir.mkdir()
    (workdir / "pytest.ini").write_text("[pytest]\n")  # not this repository's settings
    (workdir / "test_sample.py").write_text(SUITE)
    return workdir


async def _results(kafka_bootstrap: str, topics: Topics, count: int) -> list[dict[str, object]]:
    records = await read_topic(kafka_bootstrap, topics, Topic.TEST_RESULTS, count)
    return [orjson.loads(r.value or b"") for r in records]


async def test_a_muted_failure_passes_the_run_and_is_still_uploaded_and_unmuted_fails_it(
    stack: Stack, tmp_path: Path, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    workdir = _suite(tmp_path)
    mute = stack.change(suite="payments-pytest", scope="test_sample.py", name="test_wobbly",
                        state="muted", reason="float maths", by="alice")  # fmt: skip
    assert mute.status_code == 202, mute.text
    skip = stack.change(suite="payments-pytest", scope="test_sample.py", name="test_hangs",
                        state="skipped", reason="hangs on arm64", by="bob")  # fmt: skip
    assert skip.status_code == 202, skip.text
    await stack.wait_listed(2)
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services", "tests", "list", "--api", stack.api, "--json"],
        cwd=ROOT, env={**os.environ, "KITESTREAM_READ_TOKEN": READ_TOKEN},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert {(q["name"], q["state"], q["set_by"]) for q in orjson.loads(listed.stdout)} == {
        ("test_wobbly", "muted", "alice"),
        ("test_hangs", "skipped", "bob"),
    }

    muted = await asyncio.to_thread(_pytest, workdir, stack.api, stack.receiver, "b1")
    out = muted.stdout + muted.stderr
    assert muted.returncode == 0, out
    assert "1 passed, 1 skipped, 1 xfailed" in out
    assert "kitestream: muted by alice: float maths" in out
    assert "a skipped test must not run" not in out
    junit = (workdir / "b1.xml").read_text()
    assert "wobbly failed again" in junit  # the report records the failure
    assert 'message="kitestream: skipped by bob: hangs on arm64"' in junit

    values = await _results(kafka_bootstrap, kafka_topics, 3)
    by_name = {v["test"]["name"]: v for v in values}  # type: ignore[index]
    assert by_name["test_wobbly"]["result"] == "failed"
    assert "wobbly failed again" in str(by_name["test_wobbly"]["failure_reason"])
    assert by_name["test_ok"]["result"] == "passed"
    assert by_name["test_hangs"]["result"] == "skipped"

    unmute = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services", "tests", "unmute", "--api", stack.api,
         "--suite", "payments-pytest", "--scope", "test_sample.py", "--name", "test_wobbly",
         "--reason", "fixed", "--by", "carol"],
        cwd=ROOT, env={**os.environ, "KITESTREAM_WRITE_TOKEN": WRITE_TOKEN},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert unmute.returncode == 0, unmute.stdout + unmute.stderr
    assert "payments-pytest/test_sample.py/test_wobbly: active" in unmute.stdout
    await stack.wait_listed(1)

    failing = await asyncio.to_thread(_pytest, workdir, stack.api, stack.receiver, "b2")
    assert failing.returncode == 1, failing.stdout
    assert "1 failed, 1 passed, 1 skipped" in failing.stdout


async def test_with_kitestream_unreachable_the_run_goes_on_unchanged_and_says_so_once(
    tmp_path: Path, receiver_url: str
) -> None:
    workdir = _suite(tmp_path)
    nobody = f"http://127.0.0.1:{free_port()}"
    done = await asyncio.to_thread(_pytest, workdir, nobody, receiver_url, "b3")
    assert done.returncode == 1
    assert "2 failed, 1 passed" in done.stdout
    assert done.stdout.count("quarantine not applied, the run went on unchanged") == 1


def test_unconfigured_the_plugin_does_nothing(tmp_path: Path) -> None:
    workdir = _suite(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITESTREAM", "BUILDKITE"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "services.quarantine.pytest_plugin",
         "-p", "no:cacheprovider", str(workdir)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "2 failed, 1 passed" in done.stdout
    assert "kitestream" not in done.stdout
