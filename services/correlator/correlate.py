"""Stage 2, pure: per-service correlation of failures, deploys and incidents.

:meth:`Correlator.observe` takes one observation and the time it was read, and answers
with the alerts it completes and the state changes to write to the changelog. It makes
the decision whenever the last of the three pieces arrives, in whatever order they
come::

    arrival:  incident ──── failure ──── deploy        ─▶ alert when the deploy arrives
    arrival:  deploy ────── incident ─── failure       ─▶ alert when the failure arrives

Event times come from the payloads, never from arrival. A piece seen twice changes
nothing; a piece older than the service's clock minus the retention is dropped. After
every step, every (incident, deploy) pair that lines up has had its one alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from schemas.alerts import Alert
from services.correlator.alert import build_alert
from services.correlator.matching import candidates
from services.correlator.observations import (
    DeploySeen,
    FailureSeen,
    IncidentSeen,
    Observation,
)
from services.correlator.state import Change, ServiceState, pair_key
from services.correlator.windows import Windows

__all__ = ["Correlator", "Step"]

log = logging.getLogger(__name__)


@dataclass
class Step:
    """What one observation led to."""

    alerts: list[Alert] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


class Correlator:
    """The correlation state of every service of one partition."""

    def __init__(self, windows: Windows | None = None) -> None:
        self.windows = windows or Windows()
        self.services: dict[str, ServiceState] = {}
        self.too_late = 0

    def _state(self, service: str) -> ServiceState:
        state = self.services.get(service)
        if state is None:
            state = self.services[service] = ServiceState(service)
        return state

    def observe(self, obs: Observation, now: datetime) -> Step:
        """Take ``obs`` (read at ``now``); the alerts it completes and the changes to log."""
        state = self._state(obs.service)
        step = Step()
        if (tick := state.advance(min(obs.at, now))) is not None:
            step.changes.append(tick)
        assert state.clock is not None
        horizon = state.clock - self.windows.retention
        if tick is not None:  # the horizon moved: forget what fell behind it
            step.changes += state.forget_before(horizon)
        if obs.at < horizon:
            self.too_late += 1
            log.debug("dropping %s for %s: older than the retention", obs.type, obs.service)
            return step
        change = state.put(obs)
        if change is None:
            return step
        step.changes.append(change)
        for incident in self._affected(state, obs):
            if not self._open_pairs(state, incident):
                continue
            for candidate in candidates(state, incident, self.windows):
                pair = pair_key(incident.incident_id, candidate.deploy.deploy_id)
                if pair in state.alerted:
                    continue
                step.alerts.append(build_alert(state.name, candidate, now))
                step.changes.append(state.mark_alerted(pair, min(incident.at, candidate.deploy.at)))
        return step

    def _open_pairs(self, state: ServiceState, incident: IncidentSeen) -> bool:
        """Whether some deploy before ``incident`` has not been alerted on with it yet."""
        return any(
            pair_key(incident.incident_id, deploy.deploy_id) not in state.alerted
            for deploy in state.deploys.values()
            if self.windows.incident_after_deploy(deploy.at, incident.at)
        )

    def _affected(self, state: ServiceState, obs: Observation) -> list[IncidentSeen]:
        """The incidents whose candidates ``obs`` can have changed."""
        w = self.windows
        if isinstance(obs, IncidentSeen):
            return [state.incidents[obs.incident_id]]
        if isinstance(obs, DeploySeen):
            deploys = [state.deploys[obs.deploy_id]]
        elif isinstance(obs, FailureSeen):
            at = state.failures[obs.failure_id].at
            deploys = [d for d in state.deploys.values() if w.deploy_near_failure(d.at, at)]
        else:
            return []  # test results only colour alerts decided later
        return sorted(
            (
                i
                for i in state.incidents.values()
                if any(w.incident_after_deploy(d.at, i.at) for d in deploys)
            ),
            key=lambda i: (i.at, i.incident_id),
        )

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Replay one changelog record written by :meth:`observe`."""
        service, kind, ident = orjson.loads(key)
        self._state(service).restore(kind, ident, value)
