"""From a verified Buildkite webhook to the message, topic and key it becomes (pure).

Routing is by family, the part of the event name before the first dot::

    ping          -> nothing produced (200)
    build.*       -> buildkite.builds   key: pipeline slug
    job.*         -> buildkite.jobs     key: pipeline slug
    agent.*       -> buildkite.agents   key: agent id
    anything else -> buildkite.agents   key: agent id, else the event name

Event names kitestream does not know yet are accepted and routed the same way (the
caller logs each once). ``event_id`` is a hash of the event name, the object's id, its
state and the latest ``*_at`` timestamp in the object, so the same delivery sent twice
gets the same id and consumers can drop the duplicate, while a later state change of
the same build gets a new one.

Well-formed build and job webhooks are read by :mod:`services.receiver.webhook_reader`
without pydantic; whatever it does not read exactly falls back to the tolerant edge
models (:func:`_build_event`, :func:`_job_event`), which make the same bytes and stay
the reference.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from schemas.base import stable_id
from schemas.buildkite import AgentEvent
from services.common.topics import Topic
from services.ingest.errors import InvalidPayload
from services.receiver.buildkite_payload import (
    AgentWebhook,
    BuildWebhook,
    JobWebhook,
    PipelineIn,
)
from services.receiver.routed import Routed, encode, event_id_for, webhook_routed
from services.receiver.webhook_reader import latest_timestamp, read_build, read_job

__all__ = [
    "EVENT_NAME_PATTERN",
    "KNOWN_EVENTS",
    "Routed",
    "event_family",
    "event_name",
    "normalise",
]

KNOWN_EVENTS = frozenset(
    {
        "ping",
        *(f"build.{s}" for s in ("scheduled", "running", "failing", "finished", "skipped")),
        *(
            f"job.{s}"
            for s in ("scheduled", "started", "finished", "activated", "promised_exit_status")
        ),
        *(
            f"agent.{s}"
            for s in ("connected", "lost", "disconnected", "stopping", "stopped", "blocked")
        ),
    }
)
EVENT_NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}"
_NAME = re.compile(EVENT_NAME_PATTERN)
_FAMILY_TOPICS = {"build": Topic.BUILDS, "job": Topic.JOBS, "agent": Topic.AGENTS}


def event_name(header: str | None, body: Any) -> str:
    """``X-Buildkite-Event``, else the body's ``event``; 422 when neither is usable."""
    name = (header or "").strip()
    if not name and isinstance(body, dict) and isinstance(body.get("event"), str):
        name = body["event"].strip()
    if not name:
        raise InvalidPayload("no event name: send X-Buildkite-Event or an `event` field")
    if not _NAME.fullmatch(name):
        raise InvalidPayload("the event name is not of the form family.action")
    return name


def event_family(name: str) -> str:
    return name.split(".", 1)[0]


def normalise(
    name: str, payload: Any, received_at: datetime, raw: bytes | None = None
) -> Routed | None:
    """The message for one webhook, or ``None`` for ``ping``; 422 when it cannot be built.

    ``raw``: the JSON text ``payload`` was parsed from. The message then carries it as
    its ``payload``, as it came (surrounding whitespace aside), instead of writing the
    parsed value out again; without it (a payload from the REST API), the parsed value
    is written."""
    if not isinstance(payload, dict):
        raise InvalidPayload("the body must be a JSON object")
    if name == "ping":
        return None
    echo = None if raw is None else orjson.Fragment(raw.strip())
    family = event_family(name)
    try:
        if family == "build":
            fast = read_build(name, payload, received_at, echo)
            return fast if fast is not None else _build_event(name, payload, received_at, echo)
        if family == "job":
            fast = read_job(name, payload, received_at, echo)
            return fast if fast is not None else _job_event(name, payload, received_at, echo)
        return _agent_event(name, payload, received_at, echo)
    except ValidationError as exc:
        raise InvalidPayload(f"{family} event: {_describe(exc)}") from None


def _build_event(
    name: str, payload: dict[str, Any], received_at: datetime, echo: Any = None
) -> Routed:
    hook = BuildWebhook.model_validate(payload)
    # One serializer pass for the build and both places its pipeline may be in.
    dumped = hook.model_dump(mode="json", include=_BUILD_PARTS)
    build = dumped["build"]
    nested = build.pop("pipeline")
    pipeline = _pipeline_json(dumped["pipeline"] or nested)
    build["meta_data"] = build["meta_data"] or {}
    event_id = _event_id(name, hook.build.id, hook.build.state, payload.get("build"), hook.build)
    return webhook_routed(
        event_id, name, received_at, pipeline=pipeline, build=build, payload=payload, echo=echo
    )


def _job_event(
    name: str, payload: dict[str, Any], received_at: datetime, echo: Any = None
) -> Routed:
    hook = JobWebhook.model_validate(payload)
    pipeline = _pipeline(hook.pipeline or hook.build.pipeline)
    job = hook.job.model_dump(mode="json", exclude={"agent": {"connection_state"}})
    if job["retry_source"] is not None and job["retry_source"]["retry_type"] not in _RETRIES:
        job["retry_source"]["retry_type"] = None  # the raw value stays in the payload
    build = hook.build.model_dump(mode="json", include=_BUILD_REF)
    event_id = _event_id(name, hook.job.id, hook.job.state, payload.get("job"), hook.job)
    return webhook_routed(
        event_id,
        name,
        received_at,
        pipeline=pipeline,
        build=build,
        job=job,
        payload=payload,
        echo=echo,
    )


_BUILD_PARTS = {"build", "pipeline"}
_RETRIES = {"manual", "automatic"}
_BUILD_REF = {"id", "number", "state", "branch", "commit", "web_url"}


def _agent_event(
    name: str, payload: dict[str, Any], received_at: datetime, echo: Any = None
) -> Routed:
    hook = AgentWebhook.model_validate(payload)
    agent = hook.agent
    # Without an agent id, the payload itself tells one event from another.
    object_id = agent.id if agent and agent.id else stable_id(payload)
    state = agent.connection_state if agent else None
    event_id = _event_id(name, object_id, state, payload.get("agent"))
    ref = None if agent is None else agent.model_dump(mode="json", exclude={"connection_state"})
    value = encode(event_id, name, received_at, agent=ref, payload=payload, echo=echo)
    key = agent.id if agent and agent.id else name
    topic = _FAMILY_TOPICS.get(event_family(name), Topic.AGENTS)
    return Routed(topic, key, event_id, value, AgentEvent)


def _event_id(
    name: str, object_id: str, state: str | None, raw: object, read: BaseModel | None = None
) -> str:
    latest = latest_timestamp(raw, vars(read) if read is not None else {})
    return event_id_for(name, object_id, state, latest)


def _pipeline(pipeline: PipelineIn | None) -> dict[str, Any]:
    return _pipeline_json(None if pipeline is None else pipeline.model_dump(mode="json"))


def _pipeline_json(out: dict[str, Any] | None) -> dict[str, Any]:
    """The message's pipeline from a :class:`PipelineIn` dumped as JSON."""
    if out is None:
        raise InvalidPayload("the payload has no pipeline with a slug")
    out["tags"] = out["tags"] or []
    return out


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
