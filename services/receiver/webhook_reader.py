"""Well-formed ``build.*`` and ``job.*`` webhooks read without pydantic (pure).

The receiver's hot path. :func:`read_build` and :func:`read_job` take the payload as
``orjson.loads`` gives it and return the :class:`~services.receiver.routed.Routed` the
edge models of :mod:`services.receiver.buildkite_payload` would give (same topic, key,
event id, message bytes), or ``None`` when the payload holds anything they do not read
exactly as those models do; :func:`services.receiver.events.normalise` then reads it
with the models, which stay the reference (and the OpenAPI schema).

What is read here, field by field, by exact type (``type(v) is str``; a bool is not
an int here, as it is to Python)::

    ids (build, job, pipeline slug)  str of 1..512 characters, else None (models decide)
    text fields                      str or null or absent
    number, exit_status, counts      int or null or absent
    blocked, soft_failed, retried    bool or null or absent
    creator, author, agent, ...      object of the above, or null or absent
    pull_request, meta_data, ...     object (passed on as it came), or null or absent
    tags                             list of str, or null or absent
    provider                         object whose id is text, or null or absent
    timestamps                       str (read by the models' own ``parse_timestamp``),
                                     or null or absent

Everything else (an id given as a number, ``"number": 1.0``, ``"blocked": "true"``, a
person given as a string, a top-level pipeline without a slug, …) is what the models'
coercions and leniency are for: ``None``, and the models read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.receiver.buildkite_payload import parse_timestamp
from services.receiver.routed import Routed, event_id_for, webhook_routed

__all__ = ["latest_timestamp", "read_build", "read_job"]


class _Unread(Exception):
    """Something the models read differently (coerced, made ``None``, refused)."""


def read_build(
    name: str, payload: dict[str, Any], received_at: datetime, echo: object = None
) -> Routed | None:
    """``build.*``: the message of :class:`~schemas.buildkite.BuildEvent`, or ``None``.
    ``echo``: what the message carries as its ``payload`` (``payload`` when ``None``)."""
    try:
        raw = _object(payload.get("build"))
        build, stamps = _build(raw)
        pipeline = _pipeline_of(payload, raw)
    except _Unread:
        return None
    event_id = event_id_for(name, build["id"], build["state"], latest_timestamp(raw, stamps))
    return webhook_routed(
        event_id, name, received_at, pipeline=pipeline, build=build, payload=payload, echo=echo
    )


def read_job(
    name: str, payload: dict[str, Any], received_at: datetime, echo: object = None
) -> Routed | None:
    """``job.*``: the message of :class:`~schemas.buildkite.JobEvent`, or ``None``
    (``echo`` as for :func:`read_build`)."""
    try:
        raw = _object(payload.get("job"))
        job, stamps = _job(raw)
        raw_build = _object(payload.get("build"))
        build = _build_ref(raw_build)
        pipeline = _pipeline_of(payload, raw_build)
    except _Unread:
        return None
    event_id = event_id_for(name, job["id"], job["state"], latest_timestamp(raw, stamps))
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


# -- the objects, each field in the order of its contract model -------------------------


def _build(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, datetime | None]]:
    """:class:`~schemas.buildkite.Build` as JSON, and its timestamps as read."""
    get = raw.get
    stamps = {key: _stamp(get(key)) for key in _BUILD_STAMPS}
    build = {
        "id": _id(get("id")),
        "graphql_id": _text(get("graphql_id")),
        "number": _int(get("number")),
        "state": _text(get("state")),
        "blocked": _flag(get("blocked")),
        "branch": _text(get("branch")),
        "commit": _text(get("commit")),
        "message": _text(get("message")),
        "source": _text(get("source")),
        "creator": _person(get("creator")),
        "author": _person(get("author")),
        "pull_request": _mapping(get("pull_request")),
        "web_url": _text(get("web_url")),
        **stamps,
        "meta_data": _mapping(get("meta_data")) or {},
    }
    return build, stamps


_BUILD_STAMPS = ("created_at", "scheduled_at", "started_at", "finished_at")


def _build_ref(raw: dict[str, Any]) -> dict[str, Any]:
    """:class:`~schemas.buildkite.BuildRef` as JSON (a job's build)."""
    get = raw.get
    return {
        "id": _id(get("id")),
        "number": _int(get("number")),
        "state": _text(get("state")),
        "branch": _text(get("branch")),
        "commit": _text(get("commit")),
        "web_url": _text(get("web_url")),
    }


def _job(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, datetime | None]]:
    """:class:`~schemas.buildkite.Job` as JSON, and its timestamps as read."""
    get = raw.get
    stamps = {key: _stamp(get(key)) for key in _JOB_STAMPS}
    job = {
        "id": _id(get("id")),
        "graphql_id": _text(get("graphql_id")),
        "type": _text(get("type")),
        "name": _text(get("name")),
        "step_key": _text(get("step_key")),
        "state": _text(get("state")),
        "exit_status": _int(get("exit_status")),
        "soft_failed": _flag(get("soft_failed")),
        "retried": _flag(get("retried")),
        "retried_in_job_id": _text(get("retried_in_job_id")),
        "retries_count": _int(get("retries_count")),
        "retry_type": _text(get("retry_type")),
        "retry_source": _retry_source(get("retry_source")),
        "parallel_group_index": _int(get("parallel_group_index")),
        "parallel_group_total": _int(get("parallel_group_total")),
        "agent": _agent(get("agent")),
        **stamps,
        "web_url": _text(get("web_url")),
    }
    return job, stamps


_JOB_STAMPS = ("started_at", "finished_at")


def _pipeline_of(payload: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any]:
    """The top-level pipeline, else the one nested in ``holder`` (the build)."""
    raw = payload.get("pipeline")
    if raw is None:
        raw = holder.get("pipeline")
    get = _object(raw).get
    return {
        "id": _text(get("id")),
        "slug": _id(get("slug")),
        "name": _text(get("name")),
        "repository": _text(get("repository")),
        "tags": _tags(get("tags")),
        "default_branch": _text(get("default_branch")),
        "provider": _provider(get("provider")),
    }


def _person(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    get = _object(value).get
    return {"id": _text(get("id")), "name": _text(get("name")), "email": _text(get("email"))}


def _agent(value: object) -> dict[str, Any] | None:
    """:class:`~schemas.buildkite.AgentRef` (``connection_state`` is not part of it)."""
    if value is None:
        return None
    get = _object(value).get
    return {"id": _text(get("id")), "name": _text(get("name")), "hostname": _text(get("hostname"))}


def _retry_source(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    get = _object(value).get
    retry_type = _text(get("retry_type"))
    return {
        "job_id": _text(get("job_id")),
        "retry_type": retry_type if retry_type in _RETRY_TYPES else None,
        "retried_by": _mapping(get("retried_by")),
    }


_RETRY_TYPES = frozenset({"manual", "automatic"})


def _provider(value: object) -> str | None:
    """Buildkite sends ``{"id": "github", "settings": …}``; the message keeps the id."""
    return None if value is None else _text(_object(value).get("id"))


def _tags(value: object) -> list[str]:
    if value is None:
        return []
    if type(value) is list and all(type(tag) is str for tag in value):
        return value
    raise _Unread


# -- the values --------------------------------------------------------------------------


def _object(value: object) -> dict[str, Any]:
    if type(value) is dict:
        return value
    raise _Unread


def _mapping(value: object) -> dict[str, Any] | None:
    """A free-form object (``meta_data``, ``pull_request``), passed on as it came."""
    if value is None or type(value) is dict:
        return value
    raise _Unread


def _id(value: object) -> str:
    if type(value) is str and 0 < len(value) <= 512:
        return value
    raise _Unread


def _text(value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Unread


def _int(value: object) -> int | None:
    if value is None or type(value) is int:
        return value
    raise _Unread


def _flag(value: object) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise _Unread


def _stamp(value: object) -> datetime | None:
    """What the models' ``Timestamp`` holds: :func:`parse_timestamp` of a string (the
    message JSON writes it as their serializer does: see :func:`routed.encode`)."""
    if value is None:
        return None
    if type(value) is str:
        return parse_timestamp(value)
    raise _Unread


def latest_timestamp(raw: object, read: dict[str, datetime | None]) -> datetime | None:
    """The latest ``*_at`` of ``raw`` (``None`` when it is not an object), for the event
    id: those already read (``read``, by key) are not parsed again, the others (a job's
    ``runnable_at``, …) are. The edge models' path calls it too, with a model's fields."""
    if type(raw) is not dict:
        return None
    latest: datetime | None = None
    for key, value in raw.items():
        if key.endswith("_at"):
            stamp = read[key] if key in read else parse_timestamp(value)
            if stamp is not None and (latest is None or stamp > latest):
                latest = stamp
    return latest
