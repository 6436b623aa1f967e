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

__all__ = ["Candidate", "candidates", "flaky_explained", "same_commit", "score"]


@dataclass(frozen=True)
class Candidate:
    """A deploy that lines up with an incident through ``failure``; ranked among the
    deploys that line up with the same incident."""

    service: str
    incident: IncidentSeen
    deploy: DeploySeen
    failure: FailureSeen
    score: float
    known_flaky: bool | None  # None: no test results for the failed build
    rank: int = 1
    of: int = 1

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the three line up, in words, strongest first."""
        deploy, failure = self.deploy, self.failure
        if deploy.via_dependency:
            found = [
                f"dependency: {self.service} depends on {deploy.deployed_service}, "
                "which was deployed"
            ]
        else:
            found = [f"same service: {self.service} was deployed"]
        if same_commit(failure.commit, deploy.commit):
            found.append(f"same commit: {(failure.commit or '')[:12]} failed and was deployed")
        gap = failure.at - deploy.at
        when = "after" if gap >= timedelta(0) else "before"
        found.append(f"time: the failure came {spoken(gap)} {when} the deploy")
        found.append(
            f"time: the incident opened {spoken(self.incident.at - deploy.at)} after the deploy"
        )
        if self.known_flaky:
            found.append("flaky: every failing test of the build is known flaky")
        return tuple(found)


def same_commit(a: str | None, b: str | None) -> bool:
    """Equal commits, allowing one to be an abbreviation (7+ characters) of the other."""
    if not a or not b:
        return False
    a, b = a.lower(), b.lower()
    short, full = sorted((a, b), key=len)
    return len(short) >= 7 and full.startswith(short)


def flaky_explained(state: ServiceState, failure: FailureSeen) -> bool | None:
    """Whether every failed test of the failed build is known flaky (``None``: unknown).

    Only when each run of the build names all its failed tests: ``tests.runs`` lists a
    limited number of them (``failed_count`` has them all), and a failure that is not
    listed cannot be known to be flaky."""
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
    complete = all(r.lists_every_failure for r in runs)
    return bool(failed) and complete and failed <= flaky and not any(r.outage for r in runs)


def score(
    incident: IncidentSeen, deploy: DeploySeen, failure: FailureSeen, windows: Windows
) -> float:
    """The sum of the reasons' weights (see the module docs), 0 to 1."""
    total = 0.2 if deploy.via_dependency else 0.4
    if same_commit(failure.commit, deploy.commit):
        total += 0.3
    total += 0.15 * (1 - abs(failure.at - deploy.at) / windows.failure)
    total += 0.15 * (1 - (incident.at - deploy.at) / windows.incident)
    return round(total, 3)


def _best(
    state: ServiceState, incident: IncidentSeen, deploy: DeploySeen, windows: Windows
) -> Candidate | None:
    """The failure that explains the most about ``deploy``, as a candidate."""
    best: tuple[tuple[bool, bool, timedelta, str], FailureSeen, bool | None] | None = None
    for failure in state.failures.values():
        if not windows.deploy_near_failure(deploy.at, failure.at):
            continue
        flaky = flaky_explained(state, failure) if state.test_runs else None
        key = (
            not flaky,
            same_commit(failure.commit, deploy.commit),
            -abs(failure.at - deploy.at),
            failure.failure_id,
        )
        if best is None or key > best[0]:
            best = (key, failure, flaky)
    if best is None:
        return None
    _, failure, flaky = best
    return Candidate(
        state.name, incident, deploy, failure, score(incident, deploy, failure, windows), flaky
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
