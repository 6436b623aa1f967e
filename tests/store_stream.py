"""A known stream for the store's tests and benchmark: every kind of message, and the
rows the store must hold after reading it.

:func:`stream` returns (unprefixed topic, key, value) triples: two builds (one passed,
one failed, each seen twice), their jobs (one retried), test executions (passes,
failures, a pass on a retry, a skip), a ``tests.runs`` summary, ``flakiness.state``
flagging one test and clearing it, a deploy started and succeeded, an incident
triggered and resolved, two alerts and their delivery records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from schemas.alerts import Alert
from schemas.buildkite import Build, BuildEvent, BuildRef, Job, JobEvent, Pipeline, RetrySource
from schemas.flakiness import Evidence, FlakinessState, TestRun
from schemas.operations import DeployEvent, IncidentEvent
from schemas.tests import RunEnv, TestIdentity, TestResult
from services.common.kafka import encode
from services.dispatcher.records import DeliveryRecord

__all__ = ["T0", "Message", "raw", "result", "stream"]

T0 = datetime(2026, 8, 1, 10, 0, tzinfo=UTC)
PIPELINE = Pipeline(slug="payments-api", name="Payments API", repository="git@x:acme/pay.git")

Message = tuple[str, bytes, BaseModel | bytes]  # (unprefixed topic, key, value)


def raw(value: BaseModel | bytes) -> bytes:
    """A message value as it goes on the wire."""
    return value if isinstance(value, bytes) else encode(value)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def build_event(
    build_id: str, number: int, state: str, minutes: float, event: str = "build.finished"
) -> BuildEvent:
    finished = _at(minutes) if state in ("passed", "failed") else None
    return BuildEvent(
        event_id=f"ev-{build_id}-{state}",
        event=event,
        received_at=_at(minutes),
        pipeline=PIPELINE,
        build=Build(
            id=build_id,
            number=number,
            state=state,
            branch="main",
            commit=f"c{number}",
            message=f"change {number}",
            source="webhook",
            web_url=f"https://buildkite.com/acme/payments-api/builds/{number}",
            created_at=_at(minutes - 5),
            started_at=_at(minutes - 4),
            finished_at=finished,
        ),
        payload={},
    )


def job_event(
    job_id: str, build_id: str, number: int, state: str, minutes: float, **job: Any
) -> JobEvent:
    return JobEvent(
        event_id=f"ev-{job_id}-{state}",
        event="job.finished",
        received_at=_at(minutes),
        pipeline=PIPELINE,
        build=BuildRef(id=build_id, number=number, branch="main", commit=f"c{number}"),
        job=Job(
            id=job_id,
            type="script",
            name="pytest",
            step_key="tests",
            state=state,
            exit_status=0 if state == "passed" else 1,
            started_at=_at(minutes - 2),
            finished_at=_at(minutes),
            web_url=f"https://buildkite.com/acme/payments-api/builds/{number}#{job_id}",
            **job,
        ),
        payload={},
    )


def result(
    n: int,
    name: str,
    outcome: str,
    minutes: float,
    *,
    attempt: int = 1,
    build_id: str = "b1",
    duration_s: float | None = 0.25,
    suite: str = "payments-pytest",
) -> TestResult:
    return TestResult(
        event_id=f"tr-{n}",
        suite=suite,
        upload_id="up-1",
        received_at=_at(minutes),
        test=TestIdentity(scope="tests.test_pay", name=name, file_name="tests/test_pay.py"),
        result=outcome,
        attempt=attempt,
        duration_s=duration_s,
        failure_reason="AssertionError" if outcome == "failed" else None,
        run_env=RunEnv(key=build_id, number="1", job_id="j1", branch="main", commit_sha="c1"),
    )


def stream() -> list[Message]:
    evidence = Evidence(
        kind="job_retry",
        at=_at(20),
        commit="c1",
        build_ids=["b1"],
        job_ids=["j1", "j1r"],
        urls=["https://buildkite.com/acme/payments-api/builds/1#j1"],
        retry_type="automatic",
    )
    key = "payments-pytest/tests.test_pay/test_charge/tests/test_pay.py"
    common = {
        "key": key,
        "kind": "test",
        "suite": "payments-pytest",
        "scope": "tests.test_pay",
        "name": "test_charge",
        "file_name": "tests/test_pay.py",
        "runs": 12,
        "failures": 3,
        "flips": 5,
        "score": 0.4,
    }
    flagged = FlakinessState(
        **common,
        status="flaky",
        episodes=1,
        since=_at(20),
        last_evidence_at=_at(20),
        evidence=[evidence],
        updated_at=_at(21),
    )
    cleared = FlakinessState(
        **common,
        status="stable",
        episodes=1,
        since=_at(20),
        last_evidence_at=_at(20),
        evidence=[evidence],
        updated_at=_at(600),
    )
    deploy = {
        "deploy_id": "d1",
        "service": "payments-api",
        "commit": "c2",
        "url": "https://deploy/d1",
        "started_at": _at(30),
    }
    incident = {
        "incident_id": "P1",
        "service": "PABC123",
        "title": "Checkout errors",
        "url": "https://pd/P1",
        "opened_at": _at(40),
        "source": "pagerduty",
    }
    alert = Alert(
        alert_id="a1",
        kind="failure_deploy_incident",
        severity="critical",
        service="payments-api",
        created_at=_at(41),
        summary="build 2 failed after deploy d1; incident P1",
        reasons=["same service"],
        links={"build": "https://buildkite.com/acme/payments-api/builds/2"},
    )
    flaky_alert = Alert(
        alert_id="a2",
        kind="flaky_test",
        severity="warning",
        service="payments-api",
        created_at=_at(21),
        summary="test_charge is flaky",
        test={"key": key},
    )
    messages: list[Message] = [
        ("buildkite.builds", b"payments-api", build_event("b1", 1, "running", 5, "build.running")),
        ("buildkite.jobs", b"payments-api", job_event("j1", "b1", 1, "failed", 8)),
        (
            "buildkite.jobs",
            b"payments-api",
            job_event(
                "j1r",
                "b1",
                1,
                "passed",
                12,
                retry_source=RetrySource(job_id="j1", retry_type="automatic"),
            ),
        ),
        ("buildkite.builds", b"payments-api", build_event("b1", 1, "passed", 13)),
        ("buildkite.jobs", b"payments-api", job_event("j2", "b2", 2, "failed", 35)),
        ("buildkite.builds", b"payments-api", build_event("b2", 2, "failed", 36)),
        # the same build event again: a replay changes nothing
        ("buildkite.builds", b"payments-api", build_event("b2", 2, "failed", 36)),
        ("tests.results", b"payments-pytest", result(1, "test_charge", "failed", 8)),
        ("tests.results", b"payments-pytest", result(2, "test_charge", "passed", 12, attempt=2)),
        ("tests.results", b"payments-pytest", result(3, "test_refund", "passed", 8)),
        ("tests.results", b"payments-pytest", result(4, "test_refund", "skipped", 9)),
        (
            "tests.results",
            b"payments-pytest",
            result(5, "test_refund", "passed", 35, build_id="b2", duration_s=1.5),
        ),
        (
            "tests.results",
            b"payments-pytest",
            result(6, "test_void", "failed", 35, build_id="b2", duration_s=None),
        ),
        (
            "tests.runs",
            b"payments-api",
            TestRun(
                event_id="run-b2",
                pipeline="payments-api",
                build_id="b2",
                build_number="2",
                suite="payments-pytest",
                commit="c2",
                branch="main",
                executions=2,
                failed_count=1,
                failed_tests=["payments-pytest/tests.test_pay/test_void/tests/test_pay.py"],
                at=_at(36),
            ),
        ),
        ("flakiness.state", key.encode(), flagged),
        (
            "deploys",
            b"payments-api",
            DeployEvent(event_id="dep-1", state="started", **deploy, received_at=_at(30)),
        ),
        (
            "deploys",
            b"payments-api",
            DeployEvent(
                event_id="dep-2",
                state="succeeded",
                finished_at=_at(33),
                received_at=_at(33),
                **deploy,
            ),
        ),
        (
            "incidents",
            b"PABC123",
            IncidentEvent(
                event_id="inc-1",
                event="incident.triggered",
                status="triggered",
                received_at=_at(40),
                **incident,
            ),
        ),
        ("alerts", key.encode(), flaky_alert),
        ("alerts", b"payments-api", alert),
        (
            "kitestream.dispatcher-delivered",
            b"a1/oncall",
            DeliveryRecord(
                alert_id="a1",
                sink="oncall",
                outcome="delivered",
                attempts=1,
                at=_at(42),
                kind="failure_deploy_incident",
                created_at=_at(41),
                subject="payments-api",
            ),
        ),
        (
            "incidents",
            b"PABC123",
            IncidentEvent(
                event_id="inc-2",
                event="incident.resolved",
                status="resolved",
                resolved_at=_at(90),
                changed_at=_at(90),
                received_at=_at(90),
                **incident,
            ),
        ),
        ("flakiness.state", key.encode(), cleared),
    ]
    return messages
