"""The real thing: Buildkite's ``buildkite-test-collector`` pytest plugin, pointed at a
running ``kitestream receiver`` by environment variables alone, and its results read
back from Kafka.

A small pytest suite runs in a subprocess with the plugin installed (it is a dependency
of this project), ``BUILDKITE_ANALYTICS_TOKEN`` set to a suite token and
``BUILDKITE_ANALYTICS_API_URL`` to the receiver's ``/v1``, exactly as the README tells
users to. The suite has more than 100 tests, so the plugin uploads in two batches.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from services.common.topics import Topic, Topics
from tests.integration.ingest.conftest import read_topic
from tests.unit.receiver.clients import SUITES

BUILD_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
PARAMETRISED = 120

SUITE = f"""
import pytest

class TestCheckout:
    def test_total_adds_tax(self):
        assert round(10 * 1.2, 2) == 12.0

    def test_discount_is_applied(self):
        assert 100 - 15 == 80, "discount should be 20"

@pytest.mark.skip(reason="sandbox down")
def test_refund():
    pass

@pytest.mark.parametrize("cents", range({PARAMETRISED}))
def test_rounding_keeps_cents(cents):
    assert round(cents / 100, 2) * 100 == pytest.approx(cents)
"""


def _run_suite(workdir: Path, api_url: str) -> subprocess.CompletedProcess[str]:
    (workdir / "pytest.ini").write_text("[pytest]\n")  # not this repository's settings
    (workdir / "test_sample.py").write_text(SUITE)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BUILDKITE", "PYTEST", "GITHUB"))
    }
    env |= {
        "BUILDKITE_ANALYTICS_TOKEN": SUITES["payments-pytest"],
        "BUILDKITE_ANALYTICS_API_URL": api_url,
        "BUILDKITE_BUILD_ID": BUILD_ID,
        "BUILDKITE_BUILD_NUMBER": "1042",
        "BUILDKITE_BRANCH": "main",
        "BUILDKITE_COMMIT": "4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
        "BUILDKITE_JOB_ID": "0190a1b2-dddd-7e5f-8a9b-0c1d2e3f4a5b",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(workdir)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_the_real_python_collector_reports_into_kafka_through_the_receiver(
    kafka_bootstrap: str, kafka_topics: Topics, tmp_path: Path, receiver_url: str
) -> None:
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    done = await asyncio.to_thread(_run_suite, suite_dir, f"{receiver_url}/v1")
    assert done.returncode == 1, done.stdout + done.stderr  # one test fails on purpose
    assert "Failed to upload" not in done.stdout + done.stderr
    # what the plugin posted, and where: two uploads to /v1/uploads, nothing else
    metrics = (await asyncio.to_thread(httpx.get, f"{receiver_url}/metrics")).text
    posted = re.findall(
        r'requests_total\{method="POST",route="([^"]+)",status="(\d+)"\} (\S+)', metrics
    )
    assert posted == [("/v1/uploads", "202", "2.0")], posted
    total = PARAMETRISED + 3
    records = await read_topic(kafka_bootstrap, kafka_topics, Topic.TEST_RESULTS, total)

    assert len(records) == total
    assert {r.key for r in records} == {b"payments-pytest"}
    values = [orjson.loads(r.value) for r in records]
    assert len({v["upload_id"] for v in values}) == 2  # the plugin sends 100 per request
    assert len({v["event_id"] for v in values}) == total
    by_name = {v["test"]["name"]: v for v in values}
    assert by_name["test_total_adds_tax"]["result"] == "passed"
    assert by_name["test_refund"]["result"] == "skipped"
    failed = by_name["test_discount_is_applied"]
    assert failed["result"] == "failed"
    assert "discount should be 20" in failed["failure_reason"]
    assert failed["test"]["scope"].endswith("TestCheckout")
    assert failed["test"]["file_name"] == "test_sample.py"
    assert failed["test"]["id"]
    assert failed["duration_s"] >= 0
    assert failed["run_env"] == {
        "ci": "buildkite",
        "key": BUILD_ID,
        "number": "1042",
        "job_id": "0190a1b2-dddd-7e5f-8a9b-0c1d2e3f4a5b",
        "branch": "main",
        "commit_sha": "4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
        "message": None,
        "url": None,
    }
    parametrised = [v for v in values if v["test"]["name"].startswith("test_rounding")]
    assert len(parametrised) == PARAMETRISED
    assert {v["result"] for v in parametrised} == {"passed"}
