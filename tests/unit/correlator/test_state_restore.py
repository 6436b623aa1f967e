"""The changelog a correlator writes rebuilds the same state, so a restart mid-stream
continues with exactly the alerts an uninterrupted run gives."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.correlator.correlate import Correlator
from services.correlator.observations import Observation
from services.correlator.state import Change
from services.correlator.windows import Windows
from tests.unit.correlator.timeline import at, deploy, failure, incident, suite_run

STREAM: list[Observation] = [
    suite_run(build="b7", failed=("test_x",), flaky=("test_x",)),
    failure(10),
    deploy(0),
    deploy(-30, ident="d0", of="ledger"),
    incident(25),
    incident(25),  # a duplicate
    failure(8, build="b7"),
    incident(40, ident="i2"),
    deploy(7 * 60, ident="d9"),  # moves the clock: the morning is forgotten
    failure(7 * 60 + 5, build="b9"),
    incident(7 * 60 + 30, ident="i9"),
]


def _read(n: int) -> datetime:
    """When the n-th event was read: half a day after the first events happened."""
    return at(12 * 60 + n)


def _compact(changes: list[Change]) -> list[Change]:
    """What a compacted changelog keeps: the last value per key, in write order."""
    last: dict[bytes, bytes | None] = {}
    for key, value in changes:
        last.pop(key, None)
        last[key] = value
    return list(last.items())


def test_restoring_from_the_changelog_at_any_point_gives_the_same_alerts() -> None:
    windows = Windows(retention=timedelta(hours=4))
    straight = Correlator(windows)
    expected = [
        a.alert_id for n, e in enumerate(STREAM) for a in straight.observe(e, _read(n)).alerts
    ]
    assert len(expected) == 5
    for cut in range(len(STREAM) + 1):
        first = Correlator(windows)
        changes: list[Change] = []
        alerts = []
        for n, event in enumerate(STREAM[:cut]):
            step = first.observe(event, _read(n))
            alerts += [a.alert_id for a in step.alerts]
            changes += step.changes
        second = Correlator(windows)
        for key, value in _compact(changes):
            second.restore(key, value)
        assert second.services.keys() == first.services.keys()
        for name, state in first.services.items():
            assert second.services[name] == state, f"cut at {cut}"
        for n, event in enumerate(STREAM[cut:], start=cut):
            alerts += [a.alert_id for a in second.observe(event, _read(n)).alerts]
        assert alerts == expected, f"cut at {cut}"


def test_forgotten_items_are_deleted_from_the_changelog() -> None:
    windows = Windows(retention=timedelta(hours=4))
    correlator = Correlator(windows)
    changes: list[Change] = []
    for n, event in enumerate(STREAM):
        changes += correlator.observe(event, _read(n)).changes
    restored = Correlator(windows)
    for key, value in _compact(changes):
        restored.restore(key, value)
    state = restored.services["payments-api"]
    assert set(state.deploys) == {"deploy:d9"}
    assert set(state.incidents) == {"i9"}
    assert len(state.alerted) == 1
