"""A build from the REST API as the ``build.finished`` and ``job.finished`` messages the
receiver would have made from its webhooks (pure).

The REST build object is the webhook's ``build`` object plus ``jobs`` (and the pipeline
nested in it); each job is the webhook's ``job`` object. So the webhook payloads are
rebuilt as Buildkite sends them::

    build.finished  {"event", "build": build without jobs and pipeline, "pipeline"}
    job.finished    {"event", "job": job, "build": build without jobs and pipeline, "pipeline"}

and handed to the receiver's own :func:`~services.receiver.events.normalise`, so the
``event_id`` (event name, object id, state, latest ``*_at``) and every field are the
receiver's. Only ``source`` differs: ``"rest"``.

Which events: ``build.finished`` for a build with ``finished_at`` (skipped and not-run
builds get ``build.skipped`` webhooks, not this); ``job.finished`` for each command job
(``type: script``) with ``finished_at``, retried jobs included. Waiter, block and
trigger jobs are left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.topics import Topic
from services.ingest.errors import InvalidPayload
from services.receiver.buildkite_payload import parse_timestamp
from services.receiver.events import normalise

__all__ = ["Event", "build_events"]

log = logging.getLogger(__name__)

_NOT_FINISHED = {"skipped", "not_run"}


@dataclass(frozen=True)
class Event:
    """One message to publish: ``at`` is its event time (the object's ``finished_at``)."""

    topic: Topic
    key: str
    event_id: str
    value: bytes
    at: datetime
    kind: str  # "build" or "job"
    build_created_at: datetime | None

    @property
    def order(self) -> tuple[datetime, int, str]:
        """Event-time order; a build's jobs before the build at the same instant."""
        return (self.at, 0 if self.kind == "job" else 1, self.event_id)


def build_events(build: dict[str, Any], received_at: datetime) -> list[Event]:
    """The finished events of one REST build; ``[]`` (and a log line) when it is unusable."""
    jobs = build.get("jobs")
    pipeline = build.get("pipeline")
    if not isinstance(jobs, list) or not isinstance(pipeline, dict):
        log.warning("skipped build %s: no job list or no pipeline in the answer", build.get("id"))
        return []
    bare = {k: v for k, v in build.items() if k not in ("jobs", "pipeline")}
    created = parse_timestamp(build.get("created_at"))
    out: list[Event] = []
    try:
        finished = parse_timestamp(build.get("finished_at"))
        if finished is not None and build.get("state") not in _NOT_FINISHED:
            payload = {"event": "build.finished", "build": bare, "pipeline": pipeline}
            out.append(_event("build.finished", payload, received_at, finished, created))
        for job in jobs:
            if not isinstance(job, dict) or job.get("type") != "script":
                continue
            at = parse_timestamp(job.get("finished_at"))
            if at is None:
                continue
            payload = {"event": "job.finished", "job": job, "build": bare, "pipeline": pipeline}
            out.append(_event("job.finished", payload, received_at, at, created))
    except InvalidPayload as exc:
        log.warning("skipped build %s: %s", build.get("id"), exc)
        return []
    return out


def _event(
    name: str,
    payload: dict[str, Any],
    received_at: datetime,
    at: datetime,
    created: datetime | None,
) -> Event:
    routed = normalise(name, payload, received_at)
    if routed is None:  # pragma: no cover - only "ping" gives None
        raise InvalidPayload(f"{name} made no message")
    message = routed.message.model_copy(update={"source": "rest"})
    kind = "build" if routed.topic is Topic.BUILDS else "job"
    return Event(routed.topic, routed.key, routed.event_id, message.to_json(), at, kind, created)
