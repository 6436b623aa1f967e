"""What one service remembers, and how each change is written to the changelog.

A service keeps its recent failures, deploys, incidents and test runs by id, the
(incident, deploy) pairs it has already alerted on, and its clock: the newest event
time it has seen (never ahead of when the event was read). Anything older than the
clock minus the retention is forgotten, and an observation that old on arrival is
dropped as too late. Forgetting does not look at what stays: every item's time is also
in a heap (oldest first), so moving the clock costs O(k log n) for the k items it drops,
whatever the service holds. An item's time only ever moves earlier (a second sighting
keeps the earlier time), so an entry whose item is gone or has another time is stale and
skipped when it comes up (the item's earlier entry came up first).

Each change is one changelog record, key ``[service, kind, id]`` (JSON), value the
item's JSON or ``None`` for a deletion, so a restore replays exactly this state.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from services.correlator.observations import (
    DeploySeen,
    FailureSeen,
    IncidentSeen,
    Observation,
    TestRunSeen,
    decode_observation,
)

__all__ = ["Change", "ServiceState", "item_key", "pair_key"]

Change = tuple[bytes, bytes | None]

_DEPLOY_STATES = {"started": 0, "succeeded": 1}


def item_key(obs: Observation) -> tuple[str, str]:
    """(kind, id) of an observation within its service."""
    if isinstance(obs, FailureSeen):
        return "failure", obs.failure_id
    if isinstance(obs, DeploySeen):
        return "deploy", obs.deploy_id
    if isinstance(obs, IncidentSeen):
        return "incident", obs.incident_id
    return "test_run", f"{obs.build_id}/{obs.suite}"


def pair_key(incident_id: str, deploy_id: str) -> str:
    return orjson.dumps([incident_id, deploy_id]).decode()


def _key(service: str, kind: str, ident: str) -> bytes:
    return orjson.dumps([service, kind, ident])


def _merge(old: Observation, new: Observation) -> Observation:
    """Two sightings of one item: the later state, at the earlier time.

    A deploy that already ended is not taken back to ``started`` by a late event.
    """
    if (
        isinstance(old, DeploySeen)
        and isinstance(new, DeploySeen)
        and _DEPLOY_STATES.get(new.state, 2) < _DEPLOY_STATES.get(old.state, 2)
    ):
        new = old
    if old.at < new.at:
        return new.model_copy(update={"at": old.at})
    return new


@dataclass
class ServiceState:
    name: str
    failures: dict[str, FailureSeen] = field(default_factory=dict)
    deploys: dict[str, DeploySeen] = field(default_factory=dict)
    incidents: dict[str, IncidentSeen] = field(default_factory=dict)
    test_runs: dict[str, TestRunSeen] = field(default_factory=dict)
    alerted: dict[str, datetime] = field(default_factory=dict)  # pair -> its older event time
    clock: datetime | None = None
    # (time, kind, id) of every item and alerted pair, oldest first; stale entries allowed.
    expiry: list[tuple[datetime, str, str]] = field(default_factory=list, compare=False, repr=False)

    def _items(self, kind: str) -> dict[str, Any]:
        items: dict[str, Any] = getattr(self, f"{kind}s")
        return items

    def put(self, obs: Observation) -> Change | None:
        """Remember ``obs``; the changelog record, or ``None`` when nothing changed."""
        kind, ident = item_key(obs)
        items = self._items(kind)
        old = items.get(ident)
        merged = obs if old is None else _merge(old, obs)
        if merged == old:
            return None
        items[ident] = merged
        if old is None or merged.at != old.at:
            heapq.heappush(self.expiry, (merged.at, kind, ident))
        return _key(self.name, kind, ident), merged.to_json()

    def mark_alerted(self, pair: str, at: datetime) -> Change:
        self.alerted[pair] = at
        heapq.heappush(self.expiry, (at, "alerted", pair))
        return _key(self.name, "alerted", pair), orjson.dumps({"at": at.isoformat()})

    def advance(self, at: datetime) -> Change | None:
        if self.clock is not None and at <= self.clock:
            return None
        self.clock = at
        return _key(self.name, "clock", ""), orjson.dumps({"at": at.isoformat()})

    def forget_before(self, horizon: datetime) -> list[Change]:
        """Drop everything older than ``horizon``, oldest first; the deletions for the
        changelog."""
        changes: list[Change] = []
        expiry = self.expiry
        while expiry and expiry[0][0] < horizon:
            at, kind, ident = heapq.heappop(expiry)
            if self._time_of(kind, ident) != at:
                continue  # stale: forgotten already, or kept with an earlier time
            if kind == "alerted":
                del self.alerted[ident]
            else:
                del self._items(kind)[ident]
            changes.append((_key(self.name, kind, ident), None))
        return changes

    def _time_of(self, kind: str, ident: str) -> datetime | None:
        if kind == "alerted":
            return self.alerted.get(ident)
        item = self._items(kind).get(ident)
        return None if item is None else item.at

    def restore(self, kind: str, ident: str, value: bytes | None) -> None:
        """Apply one changelog record (see the module docs for the layout)."""
        if kind == "clock":
            self.clock = (
                None if value is None else datetime.fromisoformat(orjson.loads(value)["at"])
            )
        elif kind == "alerted":
            if value is None:
                self.alerted.pop(ident, None)
            else:
                at = datetime.fromisoformat(orjson.loads(value)["at"])
                self.alerted[ident] = at
                heapq.heappush(self.expiry, (at, kind, ident))
        elif value is None:
            self._items(kind).pop(ident, None)
        else:
            obs = decode_observation(value)
            self._items(kind)[ident] = obs
            heapq.heappush(self.expiry, (obs.at, kind, ident))

    @property
    def empty(self) -> bool:
        return not (
            self.failures or self.deploys or self.incidents or self.test_runs or self.alerted
        )
