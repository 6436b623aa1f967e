"""What the flakiness processor publishes: ``flakiness.state`` and ``tests.runs``."""

from __future__ import annotations

from typing import Literal

from schemas.base import Message, UtcDateTime

__all__ = ["Evidence", "FlakinessState", "TestRun"]


class Evidence(Message):
    """One reason to call a test or step flaky, with where to look."""

    kind: Literal["same_commit", "transition_rate", "job_retry"]
    at: UtcDateTime
    commit: str | None = None
    build_id: str | None = None
    job_ids: list[str] = []
    url: str | None = None
    detail: str = ""


class FlakinessState(Message):
    """Compacted, key = test key (``suite/scope/name[/file]``) or step key (``pipeline#step``)."""

    key: str
    kind: Literal["test", "step"]
    suite: str | None = None
    scope: str | None = None
    name: str | None = None
    file_name: str | None = None
    pipeline: str | None = None
    step_key: str | None = None
    runs: int
    failures: int
    flips: int
    score: float
    status: Literal["flaky", "stable"]
    since: UtcDateTime | None = None
    last_evidence_at: UtcDateTime | None = None
    evidence: list[Evidence] = []
    updated_at: UtcDateTime


class TestRun(Message):
    """Per build and suite: which tests failed and how many are known flaky (key = pipeline).

    The correlator reads it to say whether a failed build is explained by flaky tests.
    """

    __test__ = False

    event_id: str
    pipeline: str
    build_id: str
    build_number: str | None = None
    suite: str
    commit: str | None = None
    branch: str | None = None
    executions: int
    failed_tests: list[str] = []
    known_flaky_failed: list[str] = []
    outage: bool = False
    at: UtcDateTime

    @property
    def all_failures_known_flaky(self) -> bool:
        return bool(self.failed_tests) and set(self.failed_tests) <= set(self.known_flaky_failed)
