"""What stage 1 writes to the repartition topic, keyed by service: one observation per
(event, service it concerns). Stage 2 correlates them per service.

A failed build of a service's default branch and a failed deploy are a
:class:`FailureSeen`; an explicit deploy event or a passed deploy build or job is a
:class:`DeploySeen` (once for the deployed service and once for each service that
depends on it); an incident is an :class:`IncidentSeen` for each service its PagerDuty
service maps to; a ``tests.runs`` summary with failures is a :class:`TestRunSeen`
(its failed tests as listed, at most a limit of them, and how many there are in all).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.base import Message, UtcDateTime

__all__ = [
    "DeploySeen",
    "FailureSeen",
    "IncidentSeen",
    "Observation",
    "TestRunSeen",
    "decode_observation",
]


class FailureSeen(Message):
    type: Literal["failure"] = "failure"
    service: str
    failure_id: str  # build:<id>, job:<id> or deploy:<id>
    kind: Literal["build", "deploy"]
    at: UtcDateTime
    title: str
    commit: str | None = None
    pipeline: str | None = None
    build_id: str | None = None
    build_number: int | None = None
    branch: str | None = None
    url: str | None = None


class DeploySeen(Message):
    type: Literal["deploy"] = "deploy"
    service: str  # whose correlation this is for
    deployed_service: str  # what was deployed: ``service`` itself, or a dependency of it
    deploy_id: str
    at: UtcDateTime
    state: str
    source: str  # api, buildkite build, buildkite job
    commit: str | None = None
    environment: str | None = None
    pipeline: str | None = None
    build_number: int | None = None
    url: str | None = None

    @property
    def via_dependency(self) -> bool:
        return self.deployed_service != self.service


class IncidentSeen(Message):
    type: Literal["incident"] = "incident"
    service: str
    incident_id: str
    at: UtcDateTime  # when it opened
    title: str
    status: str
    source: str
    source_service: str  # as sent: the PagerDuty service id, or a name
    number: int | None = None
    urgency: str | None = None
    url: str | None = None


class TestRunSeen(Message):
    __test__ = False

    type: Literal["test_run"] = "test_run"
    service: str
    pipeline: str
    build_id: str
    build_number: str | None = None
    suite: str
    at: UtcDateTime
    failed_tests: tuple[str, ...]  # at most the processor's listing limit of them
    failed_count: int | None = None  # all of them; None: a record from before it was carried
    known_flaky_failed: tuple[str, ...] = ()
    outage: bool = False

    @property
    def lists_every_failure(self) -> bool:
        """``failed_tests`` names every failed test (the list is cut at a limit, the count
        is not); unknown for a record without the count, so not assumed."""
        return self.failed_count is not None and self.failed_count <= len(self.failed_tests)


Observation = Annotated[
    FailureSeen | DeploySeen | IncidentSeen | TestRunSeen, Field(discriminator="type")
]

_ADAPTER: TypeAdapter[Observation] = TypeAdapter(Observation)


def decode_observation(raw: bytes) -> Observation:
    return _ADAPTER.validate_json(raw)
