"""Normalising webhooks: routing by family, keys, deterministic event ids, tolerant input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.buildkite import AgentEvent, BuildEvent, JobEvent
from services.common.topics import Topic
from services.ingest.errors import InvalidPayload
from services.receiver.events import KNOWN_EVENTS, Routed, event_name, normalise
from tests.thorough import examples
from tests.unit.receiver.payloads import agent_webhook, build_webhook, job_webhook
from tests.unit.receiver.strategies import json_values, near_payloads

AT = datetime(2026, 8, 1, 10, 9, 0, 120_000, tzinfo=UTC)


def test_build_event_goes_to_builds_keyed_by_pipeline_slug() -> None:
    routed = normalise("build.finished", build_webhook(), AT)
    assert routed is not None
    assert (routed.topic, routed.key) == (Topic.BUILDS, "payments-api")
    message = routed.message
    assert isinstance(message, BuildEvent)
    assert message.event == "build.finished"
    assert message.received_at == AT
    assert message.build.state == "passed"
    assert message.build.number == 1514
    assert message.build.creator is not None
    assert message.build.creator.name == "Keith Pitt"
    assert message.build.meta_data["release-version"] == "2026.08.01-3"
    assert message.pipeline.provider == "github"
    assert message.pipeline.tags == ["team-payments", "tier-1"]
    assert message.payload == build_webhook()


def test_both_timestamp_forms_are_read_as_utc() -> None:
    routed = normalise("build.finished", build_webhook(), AT)
    assert routed is not None
    assert isinstance(routed.message, BuildEvent)
    assert routed.message.build.created_at == datetime(2026, 8, 1, 10, 0, 5, tzinfo=UTC)
    assert routed.message.build.finished_at == datetime(2026, 8, 1, 10, 8, 41, tzinfo=UTC)


@pytest.mark.parametrize("edge", ["9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+01:00"])
def test_a_time_outside_the_utc_range_is_read_as_unknown_not_a_crash(edge: str) -> None:
    webhook = build_webhook()
    webhook["build"]["finished_at"] = edge
    routed = normalise("build.finished", webhook, AT)
    assert routed is not None
    assert isinstance(routed.message, BuildEvent)
    assert routed.message.build.finished_at is None


def test_job_event_goes_to_jobs_keyed_by_pipeline_slug_with_build_reference() -> None:
    retry = {"job_id": "j0", "retry_type": "automatic", "retried_by": None}
    routed = normalise("job.finished", job_webhook(retry_source=retry), AT)
    assert routed is not None
    assert (routed.topic, routed.key) == (Topic.JOBS, "payments-api")
    message = routed.message
    assert isinstance(message, JobEvent)
    assert message.job.exit_status == 1
    assert message.job.step_key == "tests-2"
    assert message.job.parallel_group_index == 2
    assert message.job.retry_source is not None
    assert message.job.retry_source.retry_type == "automatic"
    assert message.job.agent is not None
    assert message.job.agent.hostname == "ip-10-0-3-17"
    assert message.build.id == build_webhook()["build"]["id"]
    assert message.build.commit == "a65572555600c07c7ee79a2bd909bd4e2b5a0a1c"


def test_agent_event_goes_to_agents_keyed_by_agent_id() -> None:
    routed = normalise("agent.connected", agent_webhook(), AT)
    assert routed is not None
    assert (routed.topic, routed.key) == (Topic.AGENTS, "0b461f65-e7be-4c80-888a-ef11d81fd971")
    assert isinstance(routed.message, AgentEvent)


def test_ping_produces_nothing() -> None:
    assert normalise("ping", {"event": "ping", "service": {}}, AT) is None


def test_unknown_names_are_routed_by_family() -> None:
    for name, topic in [
        ("build.reticulated", Topic.BUILDS),
        ("job.teleported", Topic.JOBS),
        ("agent.hibernating", Topic.AGENTS),
    ]:
        assert name not in KNOWN_EVENTS
        payload = {
            "build.reticulated": build_webhook,
            "job.teleported": job_webhook,
            "agent.hibernating": agent_webhook,
        }[name](name)
        routed = normalise(name, payload, AT)
        assert routed is not None
        assert routed.topic is topic


def test_unknown_family_goes_to_agents_keyed_by_event_name_without_an_agent() -> None:
    routed = normalise("cluster.token_created", {"cluster": {"id": "c1"}}, AT)
    assert routed is not None
    assert (routed.topic, routed.key) == (Topic.AGENTS, "cluster.token_created")
    assert isinstance(routed.message, AgentEvent)
    assert routed.message.agent is None


def test_same_payload_gets_the_same_event_id_whenever_received() -> None:
    first = normalise("build.finished", build_webhook(), AT)
    again = normalise("build.finished", build_webhook(), datetime(2027, 1, 1, tzinfo=UTC))
    assert first is not None
    assert again is not None
    assert first.event_id == again.event_id


@pytest.mark.parametrize(
    "changed",
    [
        {"state": "failed"},
        {"finished_at": "2026-08-01T10:09:00.000Z"},
        {"build_id": "another-build"},
    ],
)
def test_a_change_of_state_time_or_object_gives_a_new_event_id(changed: dict[str, Any]) -> None:
    base = normalise("build.finished", build_webhook(), AT)
    other = normalise("build.finished", build_webhook(**changed), AT)
    assert base is not None
    assert other is not None
    assert base.event_id != other.event_id


def test_event_name_changes_the_event_id() -> None:
    a = normalise("build.running", build_webhook(), AT)
    b = normalise("build.finished", build_webhook(), AT)
    assert a is not None
    assert b is not None
    assert a.event_id != b.event_id


def test_unknown_family_events_with_different_payloads_get_different_ids() -> None:
    a = normalise("cluster.created", {"cluster": {"id": "c1"}}, AT)
    b = normalise("cluster.created", {"cluster": {"id": "c2"}}, AT)
    assert a is not None
    assert b is not None
    assert a.event_id != b.event_id


def test_fields_of_the_wrong_type_become_none_instead_of_failing() -> None:
    payload = build_webhook()
    payload["build"].update(
        number="not a number", blocked="maybe", creator="nobody", finished_at="yesterday"
    )
    payload["pipeline"]["tags"] = "not-a-list"
    routed = normalise("build.finished", payload, AT)
    assert routed is not None
    assert isinstance(routed.message, BuildEvent)
    build = routed.message.build
    assert (build.number, build.blocked, build.creator, build.finished_at) == (
        None,
        None,
        None,
        None,
    )
    assert routed.message.pipeline.tags == []


def test_pipeline_nested_in_the_build_is_used_when_not_at_top_level() -> None:
    payload = build_webhook()
    del payload["pipeline"]
    routed = normalise("build.finished", payload, AT)
    assert routed is not None
    assert routed.key == "payments-api"


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("build.finished", {"event": "build.finished"}),
        ("build.finished", {"build": {"id": ""}, "pipeline": {"slug": "x"}}),
        ("build.finished", {"build": {"id": "b"}}),
        ("build.finished", {"build": {"id": "b"}, "pipeline": {"slug": ""}}),
        ("job.finished", {"job": {"id": "j"}, "pipeline": {"slug": "x"}}),
        ("job.finished", {"build": {"id": "b"}, "pipeline": {"slug": "x"}}),
        ("build.finished", {"build": [], "pipeline": {"slug": "x"}}),
        ("agent.connected", []),
        ("ping", "ping"),
    ],
)
def test_payload_without_what_its_family_needs_is_422(name: str, payload: Any) -> None:
    with pytest.raises(InvalidPayload):
        normalise(name, payload, AT)


def test_event_name_comes_from_the_header_then_the_body() -> None:
    assert event_name("job.started", {"event": "build.finished"}) == "job.started"
    assert event_name(None, {"event": "build.finished"}) == "build.finished"
    assert event_name("  ", {"event": " ping "}) == "ping"


@pytest.mark.parametrize(
    ("header", "body"),
    [(None, {}), (None, {"event": 3}), ("", []), ("build finished", {}), ("x" * 200, {})],
)
def test_missing_or_unusable_event_name_is_422(header: str | None, body: Any) -> None:
    with pytest.raises(InvalidPayload):
        event_name(header, body)


@settings(max_examples=examples(300))
@given(
    name=st.sampled_from([*sorted(KNOWN_EVENTS), "build.x", "job.y", "other.z"]),
    payload=near_payloads | json_values,
)
def test_any_json_either_normalises_to_a_valid_message_or_is_422(name: str, payload: Any) -> None:
    try:
        routed = normalise(name, payload, AT)
    except InvalidPayload:
        return
    if routed is None:
        return
    assert routed.message.to_json() == routed.value
    assert routed.key


@pytest.mark.parametrize("payload", [build_webhook(), job_webhook(), agent_webhook()])
def test_fast_encoding_is_byte_for_byte_the_models_json(payload: dict[str, Any]) -> None:
    routed = normalise(str(payload["event"]), payload, AT)
    assert routed is not None
    assert routed.value == routed.message.to_json()


def _as_sent(payload: Any, style: int) -> bytes:
    """``payload`` as a client might have written it: compact, spaced, indented, with
    non-ASCII text escaped or not, a newline after it."""
    if style == 0:
        return orjson.dumps(payload)
    if style == 1:
        return json.dumps(payload).encode()  # ", " and ": ", non-ASCII as \\u escapes
    return (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode()


def _with_raw(name: str, payload: Any, style: int) -> tuple[Any, Any]:
    """(the message without ``raw``, with it); an exception stands for itself."""
    raw = _as_sent(payload, style)
    outcomes: list[Routed | str | None] = []
    for carried in (None, raw):
        try:
            outcomes.append(normalise(name, orjson.loads(raw), AT, carried))
        except InvalidPayload as exc:
            outcomes.append(str(exc))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("style", [0, 1, 2])
@pytest.mark.parametrize(
    "payload",
    [
        build_webhook(),
        job_webhook(),
        agent_webhook(),
        {**build_webhook(), "note": "café ☕ <b>&</b>"},
        # the edge models' path (an id given as a number)
        {**job_webhook(), "job": {**job_webhook()["job"], "id": 12345}},
    ],
)
def test_the_message_carries_the_body_as_it_came(payload: dict[str, Any], style: int) -> None:
    name = str(payload["event"])
    written, carried = _with_raw(name, payload, style)
    raw = _as_sent(payload, style).strip()
    # the same message, but for the payload's bytes: the body's own, not written again
    assert carried.value == written.value.replace(orjson.dumps(payload), raw)
    assert carried.value.endswith(b',"payload":' + raw + b"}")
    assert (carried.topic, carried.key, carried.event_id) == (
        written.topic,
        written.key,
        written.event_id,
    )
    assert carried.message == written.message


@settings(max_examples=examples(200))
@given(
    name=st.sampled_from([*sorted(KNOWN_EVENTS), "build.x", "job.y", "other.z"]),
    payload=near_payloads | json_values,
    style=st.integers(0, 2),
)
def test_carrying_the_body_changes_nothing_but_the_payloads_bytes(
    name: str, payload: Any, style: int
) -> None:
    written, carried = _with_raw(name, payload, style)
    if not isinstance(written, Routed):
        assert carried == written  # the same 422 (or ping's None)
        return
    assert isinstance(carried, Routed)
    assert (carried.topic, carried.key, carried.event_id) == (
        written.topic,
        written.key,
        written.event_id,
    )
    assert orjson.loads(carried.value) == orjson.loads(written.value)
    assert carried.message == written.message
