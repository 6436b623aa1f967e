"""What the flakiness processor publishes: ``flakiness.state`` and ``tests.runs``."""

from __future__ import annotations

from typing import Literal

from schemas.base import Message, UtcDateTime

__all__ = ["Evidence", "FlakinessState", "TestRun"]


class Evidence(Message):
    """One reason to call a test or step flaky, with where to look.

    ``same_commit``: the commit failed and passed (a rerun in the same job, or another
    build of it); ``job_retry``: a job failed and its retry in the same build passed
    (``retry_type`` says automatic or manual when known); ``transition_rate``: outcomes
    flip often on the default branch. ``build_ids``, ``job_ids`` and ``urls`` name the
    failing execution first, then the passing one.
    """

    kind: Literal["same_commit", "transition_rate", "job_retry"]
    at: UtcDateTime
    commit: str | None = None
    branch: str | None = None
    build_ids: list[str] = []
    job_ids: list[str] = []
    urls: list[str] = []
    retry_type: Literal["manual", "automatic"] | None = None
    detail: str = ""


class FlakinessState(Message):
    """Compacted, key = test key (``suite/scope/name[/file]``) or step key (``pipeline#step``).

    ``runs``, ``failures`` and ``flips`` describe the current window; ``score`` is the
    share of neighbouring executions (in event-time order) whose outcomes differ.
    ``since`` is when the current (or last) flag started, ``episodes`` how many times
    the subject has been flagged, ``evidence`` the most recent reasons, newest last.
    """

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
    episodes: int = 0
    since: UtcDateTime | None = None
    last_evidence_at: UtcDateTime | None = None
    evidence: list[Evidence] = []
    updated_at: UtcDateTime


class TestRun(Message):
    """Per build and suite: which tests failed and how many are known flaky (key = pipeline).

    The correlator reads it to say whether a failed build is explained by flaky tests.
    A run is updated as its results arrive (first result, each failure, a failed test
    passing on a retry, outage judgement changing); the latest record per
    (``build_id``, ``suite``) is the current one. ``failed_tests`` are tests that failed
    and did not pass again in the run, by key, at most a configured number of them
    (``failed_count`` is the full count); ``known_flaky_failed`` those of them flagged
    flaky at the time of the record. ``outage``: most of the run failed at once.
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
    failed_count: int = 0
    failed_tests: list[str] = []
    known_flaky_failed: list[str] = []
    outage: bool = False
    at: UtcDateTime

    @property
    def all_failures_known_flaky(self) -> bool:
        listed_all = self.failed_count <= len(self.failed_tests)
        return (
            bool(self.failed_tests)
            and listed_all
            and set(self.failed_tests) <= set(self.known_flaky_failed)
        )
