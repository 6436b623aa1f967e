"""Executions at explicit times, for scenario tests: ``result(T0 + days(3), failed=True)``."""

from __future__ import annotations

from services.flakiness.execution import Context, Execution, StepSubject, TestSubject
from services.flakiness.settings import FlakinessSettings

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
SUBJECT = TestSubject("pytest", "tests.test_cart.TestCart", "test_total", "tests/test_cart.py")
OTHER = TestSubject("pytest", "tests.test_cart.TestCart", "test_discount", "tests/test_cart.py")
STEP = StepSubject("payments-api", "unit-tests")


def days(n: float) -> float:
    return n * 86_400.0


def settings(**overrides: object) -> FlakinessSettings:
    return FlakinessSettings.model_validate(overrides)


def ctx(
    build: str,
    commit: str,
    *,
    job: str | None = None,
    branch: str = "main",
    suite: str | None = "pytest",
    retry_type: str | None = None,
    shard: int | None = None,
) -> Context:
    url = f"https://buildkite.com/acme/payments-api/builds/{build}"
    return Context(
        build_id=f"build-{build}",
        build_number=build,
        job_id=job or f"job-{build}",
        commit=commit,
        branch=branch,
        on_default_branch=branch == "main",
        build_url=url,
        job_url=f"{url}#{job or f'job-{build}'}",
        pipeline="payments-api",
        suite=suite,
        retry_type=retry_type,
        shard=shard,
    )


def result(
    at: float,
    *,
    failed: bool,
    build: str = "1",
    commit: str = "c1",
    subject: TestSubject = SUBJECT,
    attempt: int = 1,
    job: str | None = None,
    branch: str = "main",
    event: str | None = None,
) -> Execution:
    context = ctx(build, commit, job=job, branch=branch)
    event_id = event or f"{subject.name}-{build}-{job}-{attempt}-{at}-{failed}"
    return Execution(subject, context, at, event_id, failed, attempt)


def job(
    at: float,
    *,
    failed: bool,
    build: str,
    job: str,
    commit: str = "c1",
    retry_type: str | None = None,
    shard: int | None = None,
    branch: str = "main",
) -> Execution:
    context = ctx(
        build, commit, job=job, branch=branch, suite=None, retry_type=retry_type, shard=shard
    )
    return Execution(STEP, context, at, job, failed)
