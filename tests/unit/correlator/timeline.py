"""Builders for correlator timelines: observations at explicit minutes past 10:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alerts import Alert
from services.correlator.correlate import Correlator
from services.correlator.observations import (
    DeploySeen,
    FailureSeen,
    IncidentSeen,
    Observation,
    TestRunSeen,
)

T0 = datetime(2026, 8, 1, 10, 0, tzinfo=UTC)
SERVICE = "payments-api"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def failure(
    minute: float, *, build: str = "b1", commit: str | None = "a1b2c3d4e5f6"
) -> FailureSeen:
    return FailureSeen(
        service=SERVICE,
        failure_id=f"build:{build}",
        kind="build",
        at=at(minute),
        title=f"payments-api #{build[1:]} failed on main",
        commit=commit,
        pipeline="payments-api",
        build_id=build,
        build_number=int(build[1:]),
        branch="main",
        url=f"https://buildkite.com/acme/payments-api/builds/{build[1:]}",
    )


def deploy(
    minute: float,
    *,
    ident: str = "d1",
    commit: str | None = "a1b2c3d4e5f6",
    of: str = SERVICE,
    state: str = "succeeded",
) -> DeploySeen:
    return DeploySeen(
        service=SERVICE,
        deployed_service=of,
        deploy_id=f"deploy:{ident}",
        at=at(minute),
        state=state,
        source="api",
        commit=commit,
        environment="production",
        url=f"https://deploys.example.com/{ident}",
    )


def incident(minute: float, *, ident: str = "i1") -> IncidentSeen:
    return IncidentSeen(
        service=SERVICE,
        incident_id=ident,
        at=at(minute),
        title="Checkout 500s",
        status="triggered",
        source="pagerduty",
        source_service="PABC123",
        url=f"https://acme.pagerduty.com/incidents/{ident}",
    )


def suite_run(
    *,
    build: str = "b1",
    failed: tuple[str, ...],
    flaky: tuple[str, ...],
    count: int | None = -1,
) -> TestRunSeen:
    """A run whose ``failed`` tests are listed; ``count`` failed in all (-1: as many as
    listed, ``None``: not said)."""
    return TestRunSeen(
        service=SERVICE,
        pipeline="payments-api",
        build_id=build,
        build_number=build[1:],
        suite="payments-pytest",
        at=at(0),
        failed_tests=failed,
        failed_count=len(failed) if count == -1 else count,
        known_flaky_failed=flaky,
    )


def play(events: list[Observation], correlator: Correlator | None = None) -> list[Alert]:
    """Feed ``events`` in order, each read a minute after the last; every alert raised."""
    correlator = correlator or Correlator()
    alerts = []
    for n, event in enumerate(events):
        alerts += correlator.observe(event, at(24 * 60 + n)).alerts
    return alerts
