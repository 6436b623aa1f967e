"""A normalised webhook: where it goes, under which key, its event id and message bytes.

Both readers of a webhook make these, with the same recipe for the last two:

- the message JSON: ``event_id``, ``event``, ``received_at``, then the event's fields in
  the contract model's order, ``payload`` (the raw webhook) last (:func:`encode`);
- the event id: a hash of the event name, the object's id, its state and the latest
  ``*_at`` timestamp in the object (:func:`event_id_for`).

:mod:`services.receiver.events` reads a webhook through the tolerant edge models;
:mod:`services.receiver.webhook_reader` reads well-formed build and job webhooks
without them, to the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from schemas.base import stable_id
from schemas.buildkite import AgentEvent, BuildEvent, JobEvent
from services.common.topics import Topic

__all__ = ["Routed", "encode", "event_id_for", "webhook_routed"]


class Routed(NamedTuple):
    """One webhook, normalised: where it goes, under which key, and its message as JSON.

    ``value`` is built straight from what a reader read (one serialization, the raw
    payload handed to orjson as it came); ``message`` reads it back through the contract
    model, and the tests hold the two to be the same bytes. (A named tuple: made once per
    request, for less than a frozen dataclass costs.)
    """

    topic: Topic
    key: str
    event_id: str
    value: bytes
    model: type[BuildEvent | JobEvent | AgentEvent]

    @property
    def message(self) -> BuildEvent | JobEvent | AgentEvent:
        """The contract model of ``value``, validated."""
        return self.model.model_validate_json(self.value)


def encode(
    event_id: str,
    name: str,
    received_at: datetime,
    *,
    payload: Any,
    echo: Any = None,
    **fields: Any,
) -> bytes:
    """The message JSON, ``fields`` in the contract model's order, ``payload`` last:
    ``echo`` when given (the body as it came, an ``orjson.Fragment``), else ``payload``
    written out.

    Datetimes among ``fields`` are written by orjson as pydantic writes a UTC datetime
    (``2026-08-01T10:00:05Z``, microseconds when there are any), ``received_at`` too.
    """
    stamp = received_at.astimezone(UTC)
    message = {
        "event_id": event_id,
        "event": name,
        "received_at": stamp,
        **fields,
        "payload": payload if echo is None else echo,
    }
    return orjson.dumps(message, option=orjson.OPT_UTC_Z)


def webhook_routed(
    event_id: str,
    name: str,
    received_at: datetime,
    *,
    pipeline: dict[str, Any],
    build: dict[str, Any],
    job: dict[str, Any] | None = None,
    payload: Any,
    echo: Any = None,
) -> Routed:
    """A ``build.*`` webhook's :class:`Routed` (no ``job``): its
    :class:`~schemas.buildkite.BuildEvent` message onto ``buildkite.builds``; a ``job.*``
    webhook's: its :class:`~schemas.buildkite.JobEvent` onto ``buildkite.jobs``. Both are
    keyed by pipeline slug."""
    fields = {"pipeline": pipeline, "build": build}
    if job is not None:
        fields["job"] = job
    value = encode(event_id, name, received_at, payload=payload, echo=echo, **fields)
    if job is None:
        return Routed(Topic.BUILDS, pipeline["slug"], event_id, value, BuildEvent)
    return Routed(Topic.JOBS, pipeline["slug"], event_id, value, JobEvent)


def event_id_for(name: str, object_id: str, state: str | None, latest: datetime | None) -> str:
    """Same delivery, same id; a later state or timestamp of the same object, a new one.

    The hash is over ``[name, object_id, state, latest.isoformat()]``; orjson writes the
    datetime itself, as ``isoformat`` does (``2026-08-01T10:08:41+00:00``), for a tenth
    of the cost.
    """
    return stable_id(name, object_id, state, latest)
