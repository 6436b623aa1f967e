"""One test execution on ``tests.results`` (key = suite slug)."""

from __future__ import annotations

from typing import Literal

from schemas.base import Message, UtcDateTime

__all__ = ["FailureDetail", "RunEnv", "TestIdentity", "TestResult", "TestResultKind"]

TestResultKind = Literal["passed", "failed", "skipped", "unknown"]


class TestIdentity(Message):
    """Who the test is: suite + scope + name (+ file) identify it across runs."""

    __test__ = False  # not a pytest test class

    id: str | None = None
    scope: str = ""
    name: str
    location: str | None = None
    file_name: str | None = None


class RunEnv(Message):
    """Where the run happened, as the collector reported it (Buildkite's ``run_env``)."""

    ci: str | None = None
    key: str | None = None
    number: str | None = None
    job_id: str | None = None
    branch: str | None = None
    commit_sha: str | None = None
    message: str | None = None
    url: str | None = None


class FailureDetail(Message):
    expanded: list[str] = []
    backtrace: list[str] = []


class TestResult(Message):
    """One execution of one test; a test rerun in the same run is a second message."""

    __test__ = False

    event_id: str
    suite: str
    upload_id: str
    received_at: UtcDateTime
    test: TestIdentity
    result: TestResultKind
    attempt: int = 1
    duration_s: float | None = None
    failure_reason: str | None = None
    failure_expanded: list[FailureDetail] = []
    run_env: RunEnv = RunEnv()
