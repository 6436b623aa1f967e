"""Normalised Buildkite events on ``buildkite.builds``, ``buildkite.jobs``, ``buildkite.agents``.

The receiver builds these from Buildkite's webhook payloads; the original payload is
kept under ``payload`` so that subscribers can read fields kitestream does not model.
All three are keyed by pipeline slug (agents by agent id).

``source`` tells a webhook (the default, left out of the JSON) from an event that
``kitestream reconcile`` or ``backfill`` rebuilt from Buildkite's REST API (``"rest"``):
the same ``event_id`` either way, so a subscriber that drops duplicates by id needs no
change.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.base import Message, UtcDateTime

__all__ = [
    "AgentEvent",
    "AgentRef",
    "Build",
    "BuildEvent",
    "BuildRef",
    "EventSource",
    "Job",
    "JobEvent",
    "Person",
    "Pipeline",
    "RetrySource",
]


EventSource = Literal["webhook", "rest"]


def _source() -> Any:
    """``source``, left out of the JSON when "webhook" (the receiver's bytes unchanged)."""
    return Field(
        default="webhook",
        exclude_if=lambda value: value == "webhook",
        description="webhook (pushed by Buildkite) or rest (pulled by reconcile or backfill).",
    )


class Pipeline(Message):
    id: str | None = None
    slug: str
    name: str | None = None
    repository: str | None = None
    tags: list[str] = []
    default_branch: str | None = None
    provider: str | None = None


class Person(Message):
    id: str | None = None
    name: str | None = None
    email: str | None = None


class Build(Message):
    id: str
    graphql_id: str | None = None
    number: int | None = None
    state: str | None = None
    blocked: bool | None = None
    branch: str | None = None
    commit: str | None = None
    message: str | None = None
    source: str | None = None
    creator: Person | None = None
    author: Person | None = None
    pull_request: dict[str, Any] | None = None
    web_url: str | None = None
    created_at: UtcDateTime | None = None
    scheduled_at: UtcDateTime | None = None
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None
    meta_data: dict[str, Any] = {}


class BuildRef(Message):
    """The build a job belongs to, as much of it as the job payload carries."""

    id: str
    number: int | None = None
    state: str | None = None
    branch: str | None = None
    commit: str | None = None
    web_url: str | None = None


class RetrySource(Message):
    job_id: str | None = None
    retry_type: Literal["manual", "automatic"] | None = None
    retried_by: dict[str, Any] | None = None


class AgentRef(Message):
    id: str | None = None
    name: str | None = None
    hostname: str | None = None


class Job(Message):
    id: str
    graphql_id: str | None = None
    type: str | None = None
    name: str | None = None
    step_key: str | None = None
    state: str | None = None
    exit_status: int | None = None
    soft_failed: bool | None = None
    retried: bool | None = None
    retried_in_job_id: str | None = None
    retries_count: int | None = None
    retry_type: str | None = None
    retry_source: RetrySource | None = None
    parallel_group_index: int | None = None
    parallel_group_total: int | None = None
    agent: AgentRef | None = None
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None
    web_url: str | None = None


class BuildEvent(Message):
    """One ``build.*`` webhook: key = pipeline slug."""

    event_id: str
    event: str
    received_at: UtcDateTime
    source: EventSource = _source()
    pipeline: Pipeline
    build: Build
    payload: dict[str, Any]


class JobEvent(Message):
    """One ``job.*`` webhook: key = pipeline slug."""

    event_id: str
    event: str
    received_at: UtcDateTime
    source: EventSource = _source()
    pipeline: Pipeline
    build: BuildRef
    job: Job
    payload: dict[str, Any]


class AgentEvent(Message):
    """One ``agent.*`` webhook (and any family not known yet): key = agent id."""

    event_id: str
    event: str
    received_at: UtcDateTime
    agent: AgentRef | None = None
    payload: dict[str, Any]
