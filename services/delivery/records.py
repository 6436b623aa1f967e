"""What the four keys are computed from: plain rows, no database, no clock.

A :class:`Deploy` is a successful deploy of one service, whichever way kitestream saw
it (``deploy:<id>`` from ``POST /api/deploys``, ``build:<id>`` a passed build of a
deploy pipeline, ``job:<id>`` a passed deploy step: the ids the correlator's alerts
use). A :class:`Link` is one ``failure_deploy_incident`` alert: the correlator tied
that deploy to that incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["CommitTimeSource", "Deploy", "Incident", "Link"]

# Where a deploy's commit time came from: a timestamp the events carried for the
# commit, or the first build of that commit the store saw (no event carries one yet).
CommitTimeSource = Literal["commit", "first_build"]


@dataclass(frozen=True)
class Deploy:
    deploy_id: str  # deploy:<id> | build:<id> | job:<id>
    service: str
    finished_at: datetime  # when it reached its environment
    commit: str | None = None
    committed_at: datetime | None = None
    commit_time_source: CommitTimeSource | None = None
    url: str | None = None
    source: str = "api"  # api | buildkite build | buildkite job | what the deploy tool said

    @property
    def key(self) -> tuple[str, str]:
        """Distinct per service: one build can deploy two services."""
        return (self.service, self.deploy_id)


@dataclass(frozen=True)
class Incident:
    incident_id: str
    opened_at: datetime
    resolved_at: datetime | None = None
    title: str = ""
    url: str | None = None
    service: str = ""


@dataclass(frozen=True)
class Link:
    """A ``failure_deploy_incident`` alert: ``deploy_id`` of ``deployed_service`` linked
    to ``incident_id``, with what a person opens to check it."""

    alert_id: str
    deploy_id: str
    deployed_service: str
    incident_id: str
    summary: str = ""
    reasons: tuple[str, ...] = ()
    links: Mapping[str, str] = field(default_factory=dict)
    rank: int | None = None
    candidates: int | None = None
