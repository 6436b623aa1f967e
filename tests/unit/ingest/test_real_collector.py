"""The real ``buildkite-test-collector`` pytest plugin, pointed at a local endpoint.

A throwaway HTTP server on 127.0.0.1 hands whatever the plugin posts to
:func:`read_upload`; a small pytest suite runs in a subprocess with
``BUILDKITE_ANALYTICS_API_URL`` set as the docs tell users to set it.
No Kafka and no receiver: this checks the wire format, end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import orjson
import pytest

from services.ingest.auth import SuiteTokens
from services.ingest.errors import HttpError
from services.ingest.testengine import Upload, read_upload
from tests.unit.ingest.payloads import RECEIVED_AT

SUITE = """
import pytest

class TestCheckout:
    def test_total_adds_tax(self):
        assert round(10 * 1.2, 2) == 12.0

    def test_discount_is_applied(self):
        assert 100 - 15 == 80, "discount should be 20"

@pytest.mark.skip(reason="sandbox down")
def test_refund():
    pass
"""


class _Endpoint(HTTPServer):
    uploads: list[Upload]
    paths: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Endpoint

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.paths.append(self.path)
        try:
            headers = dict(self.headers.items())
            suite = SuiteTokens.parse(["payments-pytest=tok-live"]).authenticate(headers)
            upload = read_upload(suite, headers, body, received_at=RECEIVED_AT)
        except HttpError as exc:
            self._answer(exc.status, exc.to_body())
            return
        self.server.uploads.append(upload)
        self._answer(202, upload.response_body())

    def _answer(self, status: int, body: object) -> None:
        raw = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what was posted, not the access log."""


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    server = _Endpoint(("127.0.0.1", 0), _Handler)
    server.uploads, server.paths = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_real_python_collector_upload_is_parsed(endpoint: _Endpoint, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this repository's settings
    (tmp_path / "test_sample.py").write_text(SUITE)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BUILDKITE", "PYTEST", "GITHUB"))
    }
    env |= {
        "BUILDKITE_ANALYTICS_TOKEN": "tok-live",
        "BUILDKITE_ANALYTICS_API_URL": f"http://127.0.0.1:{endpoint.server_address[1]}/v1",
        "BUILDKITE_BUILD_ID": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "BUILDKITE_BRANCH": "main",
        "BUILDKITE_COMMIT": "4f3c2a1b",
        "BUILDKITE_BUILD_NUMBER": "1042",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one test fails on purpose
    assert endpoint.paths == ["/v1/uploads"]
    [upload] = endpoint.uploads
    assert upload.suite == "payments-pytest"
    outcomes = {r.test.name: r.result for r in upload.results}
    assert outcomes == {
        "test_total_adds_tax": "passed",
        "test_discount_is_applied": "failed",
        "test_refund": "skipped",
    }
    failed = next(r for r in upload.results if r.result == "failed")
    assert failed.failure_reason is not None
    assert "discount should be 20" in failed.failure_reason
    assert failed.run_env.key == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert failed.run_env.number == "1042"
    assert failed.test.id is not None
