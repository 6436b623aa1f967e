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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas.base import stable_id
from schemas.buildkite import (
    AgentEvent,
    AgentRef,
    Build,
    BuildEvent,
    BuildRef,
    Job,
    JobEvent,
    Person,
    Pipeline,
    RetrySource,
)
from services.common.topics import Topic
from services.receiver.buildkite_payload import (
    AgentIn,
    AgentWebhook,
    BuildIn,
    BuildWebhook,
    JobWebhook,
    PersonIn,
    PipelineIn,
    parse_timestamp,
)
from services.receiver.errors import InvalidPayload

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


@dataclass(frozen=True)
class Routed:
    """One webhook, normalised: where it goes and under which key."""

    topic: Topic
    key: str
    message: BuildEvent | JobEvent | AgentEvent

    @property
    def event_id(self) -> str:
        return self.message.event_id


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


def normalise(name: str, payload: Any, received_at: datetime) -> Routed | None:
    """The message for one webhook, or ``None`` for ``ping``; 422 when it cannot be built."""
    if not isinstance(payload, dict):
        raise InvalidPayload("the body must be a JSON object")
    if name == "ping":
        return None
    family = event_family(name)
    try:
        if family == "build":
            return _build_event(name, payload, received_at)
        if family == "job":
            return _job_event(name, payload, received_at)
        return _agent_event(name, payload, received_at)
    except ValidationError as exc:
        raise InvalidPayload(f"{family} event: {_describe(exc)}") from None


def _build_event(name: str, payload: dict[str, Any], received_at: datetime) -> Routed:
    hook = BuildWebhook.model_validate(payload)
    pipeline = _pipeline(hook.pipeline or hook.build.pipeline)
    raw_build = payload.get("build")
    message = BuildEvent(
        event_id=_event_id(name, hook.build.id, hook.build.state, raw_build),
        event=name,
        received_at=received_at,
        pipeline=pipeline,
        build=_build(hook.build),
        payload=payload,
    )
    return Routed(Topic.BUILDS, pipeline.slug, message)


def _job_event(name: str, payload: dict[str, Any], received_at: datetime) -> Routed:
    hook = JobWebhook.model_validate(payload)
    pipeline = _pipeline(hook.pipeline or hook.build.pipeline)
    job, build = hook.job, hook.build
    retry = job.retry_source
    message = JobEvent(
        event_id=_event_id(name, job.id, job.state, payload.get("job")),
        event=name,
        received_at=received_at,
        pipeline=pipeline,
        build=BuildRef(
            id=build.id,
            number=build.number,
            state=build.state,
            branch=build.branch,
            commit=build.commit,
            web_url=build.web_url,
        ),
        job=Job(
            **job.model_dump(exclude={"retry_source", "agent"}),
            retry_source=None
            if retry is None
            else RetrySource(
                job_id=retry.job_id,
                retry_type=retry.retry_type if retry.retry_type in _RETRY_TYPES else None,
                retried_by=retry.retried_by,
            ),
            agent=_agent(job.agent),
        ),
        payload=payload,
    )
    return Routed(Topic.JOBS, pipeline.slug, message)


_RETRY_TYPES = {"manual", "automatic"}


def _agent_event(name: str, payload: dict[str, Any], received_at: datetime) -> Routed:
    hook = AgentWebhook.model_validate(payload)
    agent = hook.agent
    raw_agent = payload.get("agent")
    # Without an agent id, the payload itself tells one event from another.
    object_id = agent.id if agent and agent.id else stable_id(payload)
    message = AgentEvent(
        event_id=_event_id(name, object_id, agent.connection_state if agent else None, raw_agent),
        event=name,
        received_at=received_at,
        agent=_agent(agent),
        payload=payload,
    )
    key = agent.id if agent and agent.id else name
    return Routed(_FAMILY_TOPICS.get(event_family(name), Topic.AGENTS), key, message)


def _event_id(name: str, object_id: str, state: str | None, raw: object) -> str:
    latest = _latest_timestamp(raw)
    return stable_id(name, object_id, state, latest.isoformat() if latest else None)


def _latest_timestamp(raw: object) -> datetime | None:
    if not isinstance(raw, dict):
        return None
    stamps = [
        parse_timestamp(v) for k, v in raw.items() if isinstance(k, str) and k.endswith("_at")
    ]
    return max((s for s in stamps if s is not None), default=None)


def _pipeline(pipeline: PipelineIn | None) -> Pipeline:
    if pipeline is None:
        raise InvalidPayload("the payload has no pipeline with a slug")
    return Pipeline(**pipeline.model_dump(exclude={"tags"}), tags=pipeline.tags or [])


def _person(person: PersonIn | None) -> Person | None:
    return None if person is None else Person(**person.model_dump())


def _agent(agent: AgentIn | None) -> AgentRef | None:
    if agent is None:
        return None
    return AgentRef(id=agent.id, name=agent.name, hostname=agent.hostname)


def _build(build: BuildIn) -> Build:
    return Build(
        **build.model_dump(exclude={"creator", "author", "meta_data", "pipeline"}),
        creator=_person(build.creator),
        author=_person(build.author),
        meta_data=build.meta_data or {},
    )


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
