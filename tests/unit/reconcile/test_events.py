"""REST builds become the receiver's messages: same event ids, same fields, source rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.buildkite import BuildEvent, JobEvent
from services.common.topics import Topic
from services.receiver.events import normalise
from services.reconcile.events import build_events
from tests.unit.reconcile.history import generate, webhooks

START = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
FETCHED = datetime(2026, 8, 2, 9, 0, tzinfo=UTC)
HISTORY = generate(
    ["web", "api"], start=START, builds=6, every=timedelta(hours=1), flaky=frozenset({"api"})
)


@pytest.mark.parametrize("build", HISTORY.builds, ids=lambda b: str(b["id"]))
def test_a_build_seen_both_ways_has_the_same_event_ids(build: dict[str, Any]) -> None:
    received = [normalise(name, body, START) for name, body in webhooks(build)]
    rest = build_events(build, FETCHED)
    assert sorted(e.event_id for e in rest) == sorted(r.event_id for r in received if r)


def test_rest_messages_equal_the_webhook_messages_but_for_source_and_arrival() -> None:
    build = HISTORY.builds[-1]
    by_id = {r.event_id: r for n, b in webhooks(build) if (r := normalise(n, b, START))}
    for event in build_events(build, FETCHED):
        ours = orjson.loads(event.value)
        theirs = orjson.loads(by_id[event.event_id].value)
        assert ours.pop("source") == "rest"
        assert ours.pop("received_at") == "2026-08-02T09:00:00Z"
        theirs.pop("received_at")
        for side in (ours, theirs):
            side["payload"].pop("sender", None)
        assert ours == theirs
        model = BuildEvent if event.topic is Topic.BUILDS else JobEvent
        assert model.model_validate_json(event.value).to_json() == event.value
        assert event.key == build["pipeline"]["slug"]


def test_retried_jobs_each_give_a_job_finished_and_waiters_none() -> None:
    build = next(b for b in HISTORY.builds if len(b["jobs"]) == 4)
    events = build_events(build, FETCHED)
    assert [e.kind for e in events].count("job") == 3  # lint, the failed job, its retry
    assert [e.kind for e in events].count("build") == 1
    retry = next(
        orjson.loads(e.value)
        for e in events
        if b"retry_source" in e.value and b'"automatic"' in e.value
    )
    assert retry["job"]["retry_source"]["retry_type"] == "automatic"


def test_a_build_without_a_job_list_is_skipped_not_half_published() -> None:
    build = {k: v for k, v in HISTORY.builds[0].items() if k != "jobs"}
    assert build_events(build, FETCHED) == []


def test_a_build_that_is_unusable_for_the_receiver_is_skipped() -> None:
    build = {**HISTORY.builds[0], "pipeline": {"name": "no slug"}}
    assert build_events(build, FETCHED) == []


def test_unfinished_and_skipped_builds_give_no_build_finished() -> None:
    running = {**HISTORY.builds[0], "state": "running", "finished_at": None}
    skipped = {**HISTORY.builds[0], "state": "skipped"}
    assert {e.kind for e in build_events(running, FETCHED)} == {"job"}
    assert {e.kind for e in build_events(skipped, FETCHED)} == {"job"}


def test_events_order_puts_jobs_before_their_build() -> None:
    events = sorted(build_events(HISTORY.builds[0], FETCHED), key=lambda e: e.order)
    assert events[-1].kind == "build"
    assert [e.at for e in events] == sorted(e.at for e in events)
