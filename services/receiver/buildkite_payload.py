"""Buildkite's webhook payloads as they arrive: tolerant models at the edge.

Unknown fields are ignored (the raw payload is kept anyway). Identity fields a message
cannot do without (build id, job id, pipeline slug) are required; every other field is
*lenient*: a value of the wrong type becomes ``None`` instead of failing the whole
webhook, since a later Buildkite release may change a field kitestream merely copies.
Timestamps accept ISO 8601 (``2026-08-01T10:00:05.000Z``) and the older
``2026-08-01 10:00:05 UTC`` form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = [
    "AgentIn",
    "AgentWebhook",
    "BuildIn",
    "BuildWebhook",
    "JobIn",
    "JobWebhook",
    "Lenient",
    "PersonIn",
    "PipelineIn",
    "RetrySourceIn",
    "Timestamp",
    "parse_timestamp",
]

T = TypeVar("T")


class _NoneOnError:
    """Marks a type whose invalid value becomes ``None`` instead of an error.

    pydantic-core's ``on_error="default"`` does this inside the validator, without a
    Python call per field (a ``WrapValidator`` catching the error cost about 1 µs a field,
    some 25 fields a webhook).
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_default_schema(handler(source), default=None, on_error="default")


# A field that becomes None when its value does not fit, instead of rejecting the payload.
Lenient = Annotated[T | None, _NoneOnError()]


def parse_timestamp(value: object) -> datetime | None:
    """A UTC datetime from Buildkite's timestamp forms, or ``None`` when unreadable."""
    if isinstance(value, datetime):
        return _utc(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:  # the common case: ISO 8601 (Python 3.11 reads the trailing Z too)
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        pass
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4].strip() + "+00:00"
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _utc(parsed: datetime) -> datetime | None:
    """``parsed`` in UTC (naive means UTC); ``None`` when UTC falls outside year 1–9999."""
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is UTC:  # ISO 8601 with Z, the common case
        return parsed
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-10:00
        return None


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
Id = Annotated[str, Field(min_length=1, max_length=512)]


class Edge(BaseModel):
    """Vendor payload: ignore what we do not model, coerce numbers to strings for ids."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class PersonIn(Edge):
    id: Lenient[str] = None
    name: Lenient[str] = None
    email: Lenient[str] = None


def _provider_id(value: object) -> object:
    """Buildkite sends the provider as ``{"id": "github", "settings": …}``; keep the id."""
    return value.get("id") if isinstance(value, dict) else value


class PipelineIn(Edge):
    id: Lenient[str] = None
    slug: Id
    name: Lenient[str] = None
    repository: Lenient[str] = None
    tags: Lenient[list[str]] = None
    default_branch: Lenient[str] = None
    provider: Annotated[Lenient[str], BeforeValidator(_provider_id)] = None


class BuildIn(Edge):
    id: Id
    graphql_id: Lenient[str] = None
    number: Lenient[int] = None
    state: Lenient[str] = None
    blocked: Lenient[bool] = None
    branch: Lenient[str] = None
    commit: Lenient[str] = None
    message: Lenient[str] = None
    source: Lenient[str] = None
    creator: Lenient[PersonIn] = None
    author: Lenient[PersonIn] = None
    pull_request: Lenient[dict[str, Any]] = None
    web_url: Lenient[str] = None
    created_at: Timestamp = None
    scheduled_at: Timestamp = None
    started_at: Timestamp = None
    finished_at: Timestamp = None
    meta_data: Lenient[dict[str, Any]] = None
    pipeline: Lenient[PipelineIn] = None  # some payloads nest it here too


class RetrySourceIn(Edge):
    job_id: Lenient[str] = None
    retry_type: Lenient[str] = None
    retried_by: Lenient[dict[str, Any]] = None


class AgentIn(Edge):
    id: Lenient[str] = None
    name: Lenient[str] = None
    hostname: Lenient[str] = None
    connection_state: Lenient[str] = None


class JobIn(Edge):
    id: Id
    graphql_id: Lenient[str] = None
    type: Lenient[str] = None
    name: Lenient[str] = None
    step_key: Lenient[str] = None
    state: Lenient[str] = None
    exit_status: Lenient[int] = None
    soft_failed: Lenient[bool] = None
    retried: Lenient[bool] = None
    retried_in_job_id: Lenient[str] = None
    retries_count: Lenient[int] = None
    retry_type: Lenient[str] = None
    retry_source: Lenient[RetrySourceIn] = None
    parallel_group_index: Lenient[int] = None
    parallel_group_total: Lenient[int] = None
    agent: Lenient[AgentIn] = None
    started_at: Timestamp = None
    finished_at: Timestamp = None
    web_url: Lenient[str] = None


class BuildWebhook(Edge):
    """``build.*``: the build and its pipeline (top level, or nested in the build)."""

    event: Lenient[str] = None
    build: BuildIn
    pipeline: Lenient[PipelineIn] = None


class JobWebhook(Edge):
    """``job.*``: the job, the build it belongs to, and the pipeline."""

    event: Lenient[str] = None
    job: JobIn
    build: BuildIn
    pipeline: Lenient[PipelineIn] = None


class AgentWebhook(Edge):
    """``agent.*`` and families not known yet: an agent when there is one."""

    event: Lenient[str] = None
    agent: Lenient[AgentIn] = None
