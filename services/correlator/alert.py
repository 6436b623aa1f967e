"""The alert a person reads: one line first, then what linked the three events.

A summary reads like::

    payments-api: incident "Checkout 500s" opened 25 min after deploy a1b2c3d;
    payments-api #812 failed on main 10 min after it

(on one line), naming the deployed service when it is a dependency, with "(failing
tests all known flaky)" when they are and "(candidate 2 of 2)" when another deploy
explains the incident better.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import Alert
from schemas.base import stable_id
from services.correlator.matching import Candidate
from services.correlator.windows import spoken

__all__ = ["KIND", "alert_id", "build_alert"]

KIND = "failure_deploy_incident"


def alert_id(service: str, incident_id: str, deploy_id: str) -> str:
    """The same (service, incident, deploy) always gives the same id."""
    return stable_id(KIND, service, incident_id, deploy_id)


def _summary(service: str, c: Candidate) -> str:
    deploy = c.deploy
    what = f"deploy {deploy.commit[:7]}" if deploy.commit else f"deploy {deploy.deploy_id}"
    if deploy.via_dependency:
        what += f" of {deploy.deployed_service} (a dependency)"
    gap = c.failure.at - deploy.at
    relation = "after it" if gap >= timedelta(0) else "before it"
    text = (
        f'{service}: incident "{c.incident.title}" opened {spoken(c.incident.at - deploy.at)} '
        f"after {what}; {c.failure.title} {spoken(gap)} {relation}"
    )
    if c.known_flaky:
        text += " (failing tests all known flaky)"
    if c.rank > 1:
        text += f" (candidate {c.rank} of {c.of})"
    return text


def _dump(model: Any, drop: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude={"type", "service", *drop})
    return {k: v for k, v in data.items() if v is not None}


def _renamed(data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if k == old else k: v for k, v in data.items()}


def build_alert(service: str, c: Candidate, created_at: datetime) -> Alert:
    """The ``failure_deploy_incident`` alert for one candidate (incident, deploy) pair."""
    links = {
        name: url
        for name, url in (
            ("build", c.failure.url),
            ("deploy", c.deploy.url),
            ("incident", c.incident.url),
        )
        if url
    }
    deploy = _dump(c.deploy, ()) | {
        "service": c.deploy.deployed_service,
        "rank": c.rank,
        "candidates": c.of,
    }
    deploy.pop("deployed_service", None)
    return Alert(
        alert_id=alert_id(service, c.incident.incident_id, c.deploy.deploy_id),
        kind=KIND,
        severity="warning" if c.known_flaky else "critical",
        service=service,
        created_at=created_at,
        summary=_summary(service, c),
        failure=_dump(c.failure, ()),
        deploy=deploy,
        incident=_renamed(_dump(c.incident, ()), "at", "opened_at"),
        reasons=list(c.reasons),
        links=links,
        score=c.score,
        failing_tests_known_flaky=c.known_flaky,
    )
