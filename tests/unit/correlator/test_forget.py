"""Forgetting goes by a time-ordered index: the same state, the same alerts and the same
changelog deletions as a scan of everything, with memory bounded over a long stream."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from services.correlator.correlate import Correlator
from services.correlator.observations import Observation
from services.correlator.state import Change, ServiceState, _key
from services.correlator.windows import Windows
from tests.thorough import length
from tests.unit.correlator.timeline import T0, at, deploy, failure, incident, suite_run

RETENTION = timedelta(hours=4)
EVENTS = length(30_000, 8_000)  # one a minute: 21 days, or 5.5 in the short form


class ScanningState(ServiceState):
    """The service state as it was: forgetting scans every item and pair."""

    def forget_before(self, horizon: datetime) -> list[Change]:
        changes: list[Change] = []
        for kind in ("failure", "deploy", "incident", "test_run"):
            items = self._items(kind)
            for ident in [i for i, obs in items.items() if obs.at < horizon]:
                del items[ident]
                changes.append((_key(self.name, kind, ident), None))
        for pair in [p for p, when in self.alerted.items() if when < horizon]:
            del self.alerted[pair]
            changes.append((_key(self.name, "alerted", pair), None))
        return changes


class ScanningCorrelator(Correlator):
    def _state(self, service: str) -> ServiceState:
        state = self.services.get(service)
        if state is None:
            state = self.services[service] = ScanningState(service)
        return state


SERVICES = tuple(f"service-{n:02d}" for n in range(40))
KINDS = "FDFDIFTFFFFFFFFT"  # per service, one a round: failures, deploys, an incident, runs
MINUTE = timedelta(minutes=1)
# kind -> an observation to copy, the field that names it, and how its names begin
TEMPLATES: dict[str, tuple[Observation, str, str]] = {
    "D": (deploy(0), "deploy_id", "deploy:d"),
    "F": (failure(0), "failure_id", "build:b"),
    "I": (incident(0), "incident_id", "i"),
    "T": (suite_run(failed=("t1",), flaky=()), "build_id", "b"),
}


def stream(
    events: int, *, services: int = len(SERVICES), seed: int = 17
) -> list[tuple[Observation, datetime]]:
    """``events`` observations, one a minute of event time, of ``services`` services in
    turn (mostly failures, few incidents), each read up to 5 minutes later; a tenth
    arrive up to 90 minutes late, and a tenth are a second sighting of an earlier item at
    an earlier time (its time moves back)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible stream, not secrets
    out: list[tuple[Observation, datetime]] = []
    for n in range(events):
        minute = float(n)
        if rng.random() < 0.1:
            minute -= rng.uniform(0, 90)  # late
        ident = f"{n}"
        if n > 100 and rng.random() < 0.1:
            ident = f"{n - services * rng.randint(1, 3)}"  # seen again, earlier
            minute -= rng.uniform(5, 30)
        kind = KINDS[(n // services) % len(KINDS)]
        template, id_field, prefix = TEMPLATES[kind]
        update: dict[str, object] = {id_field: f"{prefix}{ident}"}
        if kind in "DF":
            update["commit"] = f"c{n % 7}"
        update.update(service=SERVICES[n % services], at=T0 + minute * MINUTE)
        obs = template.model_copy(update=update)
        out.append((obs, T0 + (n + rng.uniform(0, 5)) * MINUTE))
    return out


def fields(state: ServiceState) -> tuple[object, ...]:
    """What a state holds (the index aside), whichever class it is."""
    items = (state.failures, state.deploys, state.incidents, state.test_runs, state.alerted)
    return (state.name, state.clock, *items)


def held(state: ServiceState) -> int:
    items = (state.failures, state.deploys, state.incidents, state.test_runs, state.alerted)
    return sum(len(i) for i in items)


def test_a_long_stream_of_one_service_keeps_a_bounded_state_and_forgets_as_a_scan() -> None:
    """30,000 observations of one service (8,000 in the short form), one a minute for
    21 days (late ones and second sightings included), an hour kept: after every step
    the deletions are those of a scan of the whole state, and the state and its index
    stay at about an hour of observations."""
    keep = timedelta(hours=1)
    indexed, scanning = ServiceState("payments-api"), ScanningState("payments-api")
    largest = largest_index = deletions = 0
    for n, (obs, now) in enumerate(stream(EVENTS, services=1)):
        steps = []
        for state in (indexed, scanning):
            changes: list[Change] = []
            if (tick := state.advance(min(obs.at, now))) is not None:
                changes.append(tick)
                assert state.clock is not None
                changes += state.forget_before(state.clock - keep)
            assert state.clock is not None
            if obs.at >= state.clock - keep and (change := state.put(obs)) is not None:
                changes.append(change)
            if n % 5 == 0 and obs.at >= state.clock - keep:  # now and then, an alert
                changes.append(state.mark_alerted(f"pair-{n}", obs.at))
            steps.append(Counter(changes))
        assert steps[0] == steps[1]  # the same records; deletions may come in another order
        deletions += sum(value is None for _, value in steps[0].elements())
        largest = max(largest, held(indexed))
        largest_index = max(largest_index, len(indexed.expiry))
    assert fields(indexed) == fields(scanning)
    assert deletions > 0.95 * EVENTS  # nearly everything came and went
    # An hour at one observation a minute, plus late ones, second sightings and pairs.
    assert largest < 200
    assert largest_index < 2 * largest


def test_a_long_stream_of_forty_services_gives_the_alerts_and_changes_of_a_scan() -> None:
    """20,000 observations of 40 services (5,000 in the short form), correlated: after
    every step the alerts and changelog records are those of the scanning state, and so
    is the final state."""
    windows, observations = Windows(retention=RETENTION), length(20_000, 5_000)
    indexed, scanning = Correlator(windows), ScanningCorrelator(windows)
    alerts = 0
    for obs, now in stream(observations):
        mine, theirs = indexed.observe(obs, now), scanning.observe(obs, now)
        assert [a.alert_id for a in mine.alerts] == [a.alert_id for a in theirs.alerts]
        assert Counter(mine.changes) == Counter(theirs.changes)
        alerts += len(mine.alerts)
    assert {n: fields(s) for n, s in indexed.services.items()} == {
        n: fields(s) for n, s in scanning.services.items()
    }
    assert alerts > observations // 20  # the stream does line things up
    assert max(held(state) for state in indexed.services.values()) < 20


def test_an_item_seen_again_earlier_is_forgotten_at_its_earlier_time() -> None:
    state = ServiceState("payments-api")
    state.put(deploy(100, ident="d1"))
    state.put(deploy(40, ident="d1"))  # the same deploy, seen to start earlier
    assert state.forget_before(at(41)) == [(_key("payments-api", "deploy", "deploy:d1"), None)]
    assert not state.deploys
    assert state.forget_before(at(101)) == []  # its first entry is stale, not a deletion
    assert state.expiry == []


def test_a_restored_state_forgets_as_the_one_that_wrote_the_changelog() -> None:
    windows = Windows(retention=RETENTION)
    first = Correlator(windows)
    changes: list[Change] = []
    events = stream(400, seed=3)
    for obs, now in events[:200]:
        changes += first.observe(obs, now).changes
    restored = Correlator(windows)
    for key, value in changes:  # uncompacted: every record, deletions too
        restored.restore(key, value)
    for obs, now in events[200:]:
        assert restored.observe(obs, now) == first.observe(obs, now)
