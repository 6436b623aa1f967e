"""Which deploys line up with an incident, why, and how strongly.

For an incident *I* on a service, a deploy *D* (of the service, or of a service it
depends on) is a candidate when *I* opens within the incident window after *D* and some
failure *F* of the service lies within the failure window around *D*::

    F ······ D ─────────────▶ I          |F - D| <= failure window
       D ··· F ─────────────▶ I          0 <= I - D <= incident window

Of the failures that fit, the one that explains the most is kept: a failure not
explained by known-flaky tests, then one on the deployed commit, then the closest. The
score adds up the reasons (at most 1.0):

    same service (0.4) or a dependency (0.2)
    the failure is on the deployed commit (0.3)
    failure close to the deploy (up to 0.15) and incident close to it (up to 0.15)

Candidates are ranked by score, then by how soon the incident followed the deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from services.correlator.observations import DeploySeen, FailureSeen, IncidentSeen
from services.correlator.state import ServiceState
from services.correlator.windows import Windows, spoken

__all__ = ["Candidate", "candidates", "flaky_explained", "same_commit"]


@dataclass(frozen=True)
class Candidate:
    incident: IncidentSeen
    deploy: DeploySeen
    failure: FailureSeen
    score: float
    reasons: tuple[str, ...]
    known_flaky: bool | None  # None: no test results for the failed build
    rank: int = 1
    of: int = 1


def same_commit(a: str | None, b: str | None) -> bool:
    """Equal commits, allowing one to be an abbreviation (7+ characters) of the other."""
    if not a or not b:
        return False
    a, b = a.lower(), b.lower()
    short, full = sorted((a, b), key=len)
    return len(short) >= 7 and full.startswith(short)


def flaky_explained(state: ServiceState, failure: FailureSeen) -> bool | None:
    """Whether every failed test of the failed build is known flaky (``None``: unknown)."""
    if failure.kind != "build":
        return None
    runs = [
        r
        for r in state.test_runs.values()
        if r.build_id == failure.build_id
        or (
            r.pipeline == failure.pipeline
            and failure.build_number is not None
            and r.build_number == str(failure.build_number)
        )
    ]
    if not runs:
        return None
    failed = {t for r in runs for t in r.failed_tests}
    flaky = {t for r in runs for t in r.known_flaky_failed}
    return bool(failed) and failed <= flaky and not any(r.outage for r in runs)


def _explain(
    state: ServiceState,
    incident: IncidentSeen,
    deploy: DeploySeen,
    failure: FailureSeen,
    windows: Windows,
) -> Candidate:
    reasons = []
    score = 0.0
    if deploy.via_dependency:
        score += 0.2
        reasons.append(
            f"dependency: {state.name} depends on {deploy.deployed_service}, which was deployed"
        )
    else:
        score += 0.4
        reasons.append(f"same service: {state.name} was deployed")
    if same_commit(failure.commit, deploy.commit):
        score += 0.3
        reasons.append(f"same commit: {(failure.commit or '')[:12]} failed and was deployed")
    gap = failure.at - deploy.at
    score += 0.15 * (1 - abs(gap) / windows.failure)
    when = "after" if gap >= timedelta(0) else "before"
    reasons.append(f"time: the failure came {spoken(gap)} {when} the deploy")
    lag = incident.at - deploy.at
    score += 0.15 * (1 - lag / windows.incident)
    reasons.append(f"time: the incident opened {spoken(lag)} after the deploy")
    flaky = flaky_explained(state, failure)
    if flaky:
        reasons.append("flaky: every failing test of the build is known flaky")
    return Candidate(incident, deploy, failure, round(score, 3), tuple(reasons), flaky)


def _best(
    state: ServiceState, incident: IncidentSeen, deploy: DeploySeen, windows: Windows
) -> Candidate | None:
    fitting = [f for f in state.failures.values() if windows.deploy_near_failure(deploy.at, f.at)]
    if not fitting:
        return None
    explained = [_explain(state, incident, deploy, f, windows) for f in fitting]
    return max(
        explained,
        key=lambda c: (
            not c.known_flaky,
            same_commit(c.failure.commit, deploy.commit),
            -abs(c.failure.at - deploy.at),
            c.failure.failure_id,
        ),
    )


def candidates(state: ServiceState, incident: IncidentSeen, windows: Windows) -> list[Candidate]:
    """Every deploy that lines up with ``incident``, best first, each with its rank."""
    found = []
    for deploy in state.deploys.values():
        if windows.incident_after_deploy(deploy.at, incident.at):
            best = _best(state, incident, deploy, windows)
            if best is not None:
                found.append(best)
    found.sort(key=lambda c: (-c.score, incident.at - c.deploy.at, c.deploy.deploy_id))
    return [replace(c, rank=i, of=len(found)) for i, c in enumerate(found, start=1)]
