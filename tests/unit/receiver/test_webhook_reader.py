"""The webhook reader makes the edge models' message bytes, or steps aside for them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bench.receiver import build_finished
from services.ingest.errors import InvalidPayload
from services.receiver import events
from services.receiver.routed import Routed
from services.receiver.webhook_reader import read_build, read_job
from tests.thorough import examples, spread
from tests.unit.receiver.payloads import build_webhook, job_webhook
from tests.unit.receiver.strategies import (
    BASES,
    PLACES,
    SAMPLE_VALUES,
    changed,
    json_values,
    mutated_webhooks,
    near_payloads,
)

AT = datetime(2026, 8, 1, 10, 9, 0, 120_000, tzinfo=UTC)
Reader = Callable[[str, dict[str, Any], datetime], Routed | None]


def _readers(name: str) -> tuple[Reader, Reader]:
    """The fast reader of ``name``'s family and the edge models' reader beside it."""
    if name.startswith("build."):
        return read_build, events._build_event
    return read_job, events._job_event


def _both(name: str, payload: dict[str, Any]) -> tuple[Routed | None, Routed | None]:
    """(fast reader, edge models) for one webhook; the models' ``None`` is a 422."""
    fast, models = _readers(name)
    untouched = copy.deepcopy(payload)
    routed = fast(name, payload, AT)
    assert payload == untouched  # the reader leaves the payload as it came
    try:
        return routed, models(name, payload, AT)
    except (ValidationError, InvalidPayload):
        return routed, None


def _same_or_stepped_aside(name: str, payload: dict[str, Any]) -> bool:
    """Whether the reader answered, having checked that it answers as the models do."""
    fast, models = _both(name, payload)
    if fast is None:
        return False
    assert models is not None, "the reader answered where the models refuse"
    assert (fast.topic, fast.key, fast.event_id, fast.model) == (
        models.topic,
        models.key,
        models.event_id,
        models.model,
    )
    assert fast.value == models.value
    assert fast.message.to_json() == fast.value
    return True


def _assert_same_or_stepped_aside(name: str, payload: dict[str, Any]) -> None:
    event("read fast" if _same_or_stepped_aside(name, payload) else "read by the models")


def test_every_field_of_a_real_webhook_changed_alone_reads_as_the_models_read_it() -> None:
    """Each field set to each sample value, in each base webhook (thorough) or in one
    (the short form: the bases take turns, so that each field and each value still
    meets every base)."""
    fields = [(place, key) for place, keys in PLACES.items() for key in keys]
    fast = tried = 0
    for k, field in enumerate(fields):
        for v, value in enumerate(SAMPLE_VALUES):
            for base in spread(BASES, k + v):
                name, payload = changed(base, [(field, value)])
                fast += _same_or_stepped_aside(name, payload)
                tried += 1
    assert fast > tried // 2  # most of the changes are read fast (and compared)


@settings(max_examples=examples(1500))
@given(webhook=mutated_webhooks)
def test_a_changed_real_webhook_reads_as_the_models_read_it_or_not_at_all(
    webhook: tuple[str, dict[str, Any]],
) -> None:
    _assert_same_or_stepped_aside(*webhook)


@settings(max_examples=examples(500))
@given(
    name=st.sampled_from(["build.finished", "build.x", "job.finished", "job.y"]),
    payload=near_payloads | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)
def test_any_json_object_reads_as_the_models_read_it_or_not_at_all(
    name: str, payload: dict[str, Any]
) -> None:
    _assert_same_or_stepped_aside(name, payload)


REAL = [
    ("build.finished", build_webhook()),
    ("build.running", build_webhook(state="running", finished_at=None)),
    ("job.finished", job_webhook()),
    ("job.started", job_webhook(state="running", exit_status=None)),
    ("job.finished", job_webhook(retry_source={"job_id": "j0", "retry_type": "automatic"})),
    *(("build.finished", build_finished(n)) for n in (0, 1, 7, 1514)),
]


@pytest.mark.parametrize(("name", "payload"), REAL)
def test_real_webhooks_take_the_fast_path_to_the_models_bytes(
    name: str, payload: dict[str, Any]
) -> None:
    fast, models = _both(name, payload)
    assert fast is not None
    assert models is not None
    assert tuple(fast) == tuple(models)


def test_normalise_takes_the_fast_path_for_a_real_build_webhook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> Routed:
        raise AssertionError("the edge models were asked")

    monkeypatch.setattr(events, "_build_event", refuse)
    monkeypatch.setattr(events, "_job_event", refuse)
    assert events.normalise("build.finished", build_finished(3), AT) is not None
    assert events.normalise("job.finished", job_webhook(), AT) is not None


def _build_with(**fields: Any) -> dict[str, Any]:
    payload = build_webhook()
    payload["build"].update(fields)
    return payload


def _pipeline_with(**fields: Any) -> dict[str, Any]:
    payload = build_webhook()
    payload["pipeline"].update(fields)
    return payload


def _job_with(**fields: Any) -> dict[str, Any]:
    payload = job_webhook()
    payload["job"].update(fields)
    return payload


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        pytest.param("build.finished", _build_with(id=1514), id="id-as-number"),
        pytest.param("build.finished", _build_with(number=1514.0), id="number-as-float"),
        pytest.param("build.finished", _build_with(number=True), id="number-as-bool"),
        pytest.param("build.finished", _build_with(number="1514"), id="number-as-text"),
        pytest.param("build.finished", _build_with(blocked="true"), id="blocked-as-text"),
        pytest.param("build.finished", _build_with(blocked=0), id="blocked-as-number"),
        pytest.param("build.finished", _build_with(state=3), id="state-as-number"),
        pytest.param("build.finished", _build_with(creator="nobody"), id="person-as-text"),
        pytest.param("build.finished", _build_with(finished_at=1785578921), id="time-as-number"),
        pytest.param("build.finished", _build_with(meta_data=[]), id="meta-data-as-list"),
        pytest.param("build.finished", _pipeline_with(tags=["a", 1]), id="tag-as-number"),
        pytest.param("build.finished", _pipeline_with(tags="a"), id="tags-as-text"),
        pytest.param("build.finished", _pipeline_with(provider="github"), id="provider-as-text"),
        pytest.param("build.finished", _pipeline_with(provider={"id": 7}), id="provider-id-number"),
        pytest.param("build.finished", _pipeline_with(slug=None), id="top-pipeline-no-slug"),
        pytest.param("job.finished", _job_with(exit_status=True), id="exit-status-as-bool"),
        pytest.param("job.finished", _job_with(retry_source="x"), id="retry-source-as-text"),
        pytest.param("job.finished", _job_with(agent={"id": 7}), id="agent-id-as-number"),
        pytest.param("job.finished", {**job_webhook(), "build": {"id": 5}}, id="build-id-number"),
    ],
)
def test_what_the_models_coerce_or_make_none_is_left_to_them(
    name: str, payload: dict[str, Any]
) -> None:
    fast, models = _both(name, payload)
    assert fast is None
    routed = events.normalise(name, payload, AT)
    assert routed is not None
    assert routed == models


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        pytest.param("build.finished", _build_with(id=""), id="empty-id"),
        pytest.param("build.finished", _build_with(id="b" * 513), id="id-too-long"),
        pytest.param("build.finished", {**build_webhook(), "build": []}, id="build-as-list"),
        pytest.param("job.finished", {**job_webhook(), "build": {}}, id="build-without-id"),
        pytest.param("build.finished", {"build": {"id": "b"}}, id="no-pipeline"),
    ],
)
def test_what_the_models_refuse_is_left_to_them_and_is_422(
    name: str, payload: dict[str, Any]
) -> None:
    fast, models = _both(name, payload)
    assert (fast, models) == (None, None)
    with pytest.raises(InvalidPayload):
        events.normalise(name, payload, AT)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        pytest.param("build.finished", _build_with(created_at="2026-08-01 10:00:05 UTC"), id="utc"),
        pytest.param(
            "build.finished", _build_with(started_at="2026-08-01T12:00:09+02:00"), id="+2"
        ),
        pytest.param("build.finished", _build_with(finished_at="yesterday"), id="unreadable"),
        pytest.param("build.finished", _build_with(meta_data=None), id="no-meta-data"),
        pytest.param("build.finished", _pipeline_with(tags=None, provider=None), id="no-tags"),
        pytest.param("build.finished", _pipeline_with(provider={"id": None}), id="no-provider"),
        pytest.param("job.finished", _job_with(runnable_at="2027-01-01T00:00:00Z"), id="unread-at"),
        pytest.param(
            "job.finished",
            _job_with(retry_source={"job_id": "j0", "retry_type": "weekly"}),
            id="unknown-retry-type",
        ),
    ],
)
def test_what_the_reader_reads_as_the_models_do(name: str, payload: dict[str, Any]) -> None:
    fast, models = _both(name, payload)
    assert fast is not None
    assert fast == models


def test_a_pipeline_nested_in_the_build_is_read_when_there_is_none_at_top_level() -> None:
    payload = job_webhook()
    payload["build"]["pipeline"] = payload.pop("pipeline")
    fast, models = _both("job.finished", payload)
    assert fast is not None
    assert fast == models
    assert fast.key == "payments-api"


def test_the_real_build_webhook_keeps_the_event_id_it_has_always_had() -> None:
    routed = events.normalise("build.finished", build_webhook(), AT)
    assert routed is not None
    assert routed.event_id == "ccdb6be157e50e52f018adfc4bb2f2f6"  # main at 7697a3c
