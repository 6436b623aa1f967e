"""A realistic input stream with known flaky tests and steps, and the alerts it must give.

Per project (suite + pipeline), builds 1…``builds`` on ``main``, one hour apart, each
running ``tests`` tests and one ``unit-tests`` job:

* build 3: ``test_rerun`` fails, then passes on a rerun in the same job → flaky
* build 5: ``test_rebuild`` fails; build 6 rebuilds the same commit and it passes → flaky
* build 8: every test fails (an outage); build 9 rebuilds the commit and all pass → nothing
* build 10: the ``unit-tests`` job fails and its automatic retry passes → evidence for
  the step (already flagged at build 9: its job failed in the outage and passed in the
  rebuild, and outage exclusion applies to test runs, not to jobs)
* builds 11, 12 on ``feature/x``: ``test_broken`` fails on two commits → not flaky
* everything after passes, so with ``CLEAR_AFTER_RUNS`` executions without evidence
  each flag clears → one ``flaky_test_recovered`` each.

Values are built from the contract models, as the receiver would produce them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.base import stable_id
from schemas.buildkite import BuildRef, Job, JobEvent, Pipeline, RetrySource
from schemas.tests import RunEnv, TestIdentity, TestResult
from services.flakiness.execution import StepSubject, Subject, TestSubject
from services.flakiness.messages import alert_id

__all__ = ["CLEAR_AFTER_RUNS", "Input", "Project", "expected_alert_ids", "project_stream"]

CLEAR_AFTER_RUNS = 6
T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
SCOPE = "tests.test_checkout"
FILE = "tests/test_checkout.py"


@dataclass(frozen=True)
class Input:
    """One input record: ``topic`` is ``"results"`` or ``"jobs"``."""

    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Project:
    suite: str
    pipeline: str

    def test(self, name: str) -> TestSubject:
        return TestSubject(self.suite, SCOPE, name, FILE)

    @property
    def step(self) -> StepSubject:
        return StepSubject(self.pipeline, "unit-tests")

    def flaky(self) -> list[Subject]:
        return [self.test("test_rerun"), self.test("test_rebuild"), self.step]


def _when(build: int, minutes: float = 0.0) -> datetime:
    return datetime.fromtimestamp(T0 + build * 3600 + minutes * 60, UTC)


def _result(
    p: Project,
    build: int,
    commit: str,
    name: str,
    outcome: str,
    *,
    attempt: int = 1,
    branch: str = "main",
    job: str | None = None,
    minutes: float = 0.0,
) -> Input:
    job_id = job or f"{p.pipeline}-job-{build}"
    env = RunEnv(
        ci="buildkite",
        key=f"{p.pipeline}-build-{build}",
        number=str(build),
        job_id=job_id,
        branch=branch,
        commit_sha=commit,
        url=f"https://buildkite.com/acme/{p.pipeline}/builds/{build}",
    )
    test = TestIdentity(scope=SCOPE, name=name, file_name=FILE)
    value = TestResult(
        event_id=stable_id("tests.results", p.suite, build, job_id, name, attempt, outcome),
        suite=p.suite,
        upload_id=f"upload-{p.suite}-{build}-{job_id}",
        received_at=_when(build, minutes),
        test=test,
        result=outcome,
        attempt=attempt,
        run_env=env,
    )
    return Input("results", p.suite.encode(), value.to_json())


def _job(
    p: Project,
    build: int,
    commit: str,
    state: str,
    *,
    job: str,
    branch: str = "main",
    retry_of: str | None = None,
    minutes: float = 5.0,
) -> Input:
    url = f"https://buildkite.com/acme/{p.pipeline}/builds/{build}"
    value = JobEvent(
        event_id=stable_id("job.finished", job, state),
        event="job.finished",
        received_at=_when(build, minutes + 0.1),
        pipeline=Pipeline(slug=p.pipeline, default_branch="main"),
        build=BuildRef(
            id=f"{p.pipeline}-build-{build}",
            number=build,
            branch=branch,
            commit=commit,
            web_url=url,
        ),
        job=Job(
            id=job,
            type="script",
            name=":pytest: unit tests",
            step_key="unit-tests",
            state=state,
            retry_source=RetrySource(job_id=retry_of, retry_type="automatic") if retry_of else None,
            finished_at=_when(build, minutes),
            web_url=f"{url}#{job}",
        ),
        payload={},
    )
    return Input("jobs", p.pipeline.encode(), value.to_json())


def project_stream(p: Project, *, builds: int = 24, tests: int = 12) -> list[Input]:
    """The scenario above, in the order a receiver would see it."""
    names = ["test_rerun", "test_rebuild", "test_broken"] + [
        f"test_{i:03d}" for i in range(tests - 3)
    ]
    out: list[Input] = []
    for build in range(1, builds + 1):
        commit = {6: "c5", 9: "c8"}.get(build, f"c{build}")
        branch = "feature/x" if build in (11, 12) else "main"
        job = f"{p.pipeline}-job-{build}"
        for name in names:
            failed = (
                build == 8
                or (build == 3 and name == "test_rerun")
                or (build == 5 and name == "test_rebuild")
                or (build in (11, 12) and name == "test_broken")
            )
            out.append(
                _result(p, build, commit, name, "failed" if failed else "passed", branch=branch)
            )
            if build == 3 and name == "test_rerun":
                out.append(_result(p, build, commit, name, "passed", attempt=2))
        if build == 10:
            out.append(_job(p, build, commit, "failed", job=job))
            out.append(
                _job(p, build, commit, "passed", job=f"{job}-retry", retry_of=job, minutes=9.0)
            )
        else:
            out.append(
                _job(p, build, commit, "failed" if build == 8 else "passed", job=job, branch=branch)
            )
    return out


def expected_alert_ids(projects: list[Project]) -> set[str]:
    """One ``flaky_test`` and one ``flaky_test_recovered`` per flaky subject (episode 1)."""
    return {
        alert_id(subject, kind, 1)
        for p in projects
        for subject in p.flaky()
        for kind in ("flaky_test", "flaky_test_recovered")
    }
