"""Stage 1, pure: which services an input event concerns, and as what.

Every input becomes zero or more observations, one per service it concerns:

- ``buildkite.builds``: a build that ended (its payload's state, whatever the event
  name says). In a deploy pipeline of the service: passed is a deploy, failed a failed
  deploy. Elsewhere: failed on the pipeline's default branch is a failure.
- ``buildkite.jobs``: a job with one of the service's deploy step keys that ended:
  passed is a deploy, failed a failed deploy.
- ``deploys``: started or succeeded is a deploy, failed a failure, cancelled nothing;
  a deploy to an environment the service does not list is nothing.
- ``incidents``: one per catalog service its PagerDuty service id (or name) maps to.
- ``tests.runs``: runs with failures, for the services of the pipeline and the suite.

Every deploy is also observed by each service that depends on the deployed one. A
service name the catalog does not know (a deploy or an incident sent by name) is used
as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.buildkite import BuildEvent, JobEvent
from schemas.flakiness import TestRun
from schemas.operations import DeployEvent, IncidentEvent
from services.catalog import Catalog
from services.correlator.observations import (
    DeploySeen,
    FailureSeen,
    IncidentSeen,
    Observation,
    TestRunSeen,
)

__all__ = ["Observer"]

_JOB_FAILED = {"failed", "timed_out", "broken", "expired"}


def _first(*times: datetime | None) -> datetime | None:
    return next((t for t in times if t is not None), None)


@dataclass(frozen=True)
class _Ended:
    """A Buildkite build or job that ended, in the terms of the observations it makes:
    one row of the same fields for both, so each observation is made in one place."""

    ref: str  # "build:<id>" or "job:<id>": the deploy or failure id
    source: str
    at: datetime  # when it ended (a failure's time)
    began: datetime | None  # when it started (a deploy's time)
    commit: str | None
    pipeline: str
    url: str | None
    build_id: str | None
    build_number: int | None
    branch: str | None

    def deploy(self, service: str) -> DeploySeen:
        return DeploySeen(
            service=service,
            deployed_service=service,
            deploy_id=self.ref,
            at=self.began or self.at,
            state="succeeded",
            source=self.source,
            build_number=self.build_number,
            commit=self.commit,
            pipeline=self.pipeline,
            url=self.url,
        )

    def failure(self, service: str, kind: Literal["build", "deploy"], title: str) -> FailureSeen:
        return FailureSeen(
            service=service,
            failure_id=self.ref,
            kind=kind,
            at=self.at,
            title=title,
            build_id=self.build_id,
            build_number=self.build_number,
            branch=self.branch,
            commit=self.commit,
            pipeline=self.pipeline,
            url=self.url,
        )


class Observer:
    """Maps input events to per-service observations with one catalog."""

    def __init__(self, catalog: Catalog, default_branches: Iterable[str] = ("main", "master")):
        self.catalog = catalog
        self.default_branches = tuple(default_branches)

    def _with_dependents(self, deploy: DeploySeen) -> list[Observation]:
        found: list[Observation] = [deploy]
        for dependent in sorted(self.catalog.dependents(deploy.deployed_service)):
            found.append(deploy.model_copy(update={"service": dependent}))
        return found

    def _on_default_branch(self, slug: str, branch: str | None, named: str | None) -> bool:
        default = named or self.catalog.default_branch(slug)
        return branch is not None and (
            branch == default if default else branch in self.default_branches
        )

    def _deploy_or_failure(
        self, service: str, ended: _Ended, passed: bool, title: str
    ) -> list[Observation]:
        """A deploy pipeline's build or a deploy step's job that ended: a deploy (seen by
        the service and its dependents) when it passed, else a failed deploy."""
        if passed:
            return self._with_dependents(ended.deploy(service))
        return [ended.failure(service, "deploy", title)]

    def build(self, event: BuildEvent) -> list[Observation]:
        build, pipeline = event.build, event.pipeline
        if build.state not in ("passed", "failed"):
            return []
        ended = _Ended(
            ref=f"build:{build.id}",
            source="buildkite build",
            at=_first(build.finished_at, build.started_at, build.created_at) or event.received_at,
            began=_first(build.started_at, build.finished_at),
            commit=build.commit,
            pipeline=pipeline.slug,
            url=build.web_url,
            build_id=build.id,
            build_number=build.number,
            branch=build.branch,
        )
        number = f" #{build.number}" if build.number is not None else ""
        services = self.catalog.services_for_pipeline(
            pipeline.slug, pipeline.tags, pipeline.repository
        )
        found: list[Observation] = []
        for service in sorted(services):
            if self.catalog.is_deploy(service, pipeline=pipeline.slug):
                title = f"deploy {pipeline.slug}{number} failed"
                found += self._deploy_or_failure(service, ended, build.state == "passed", title)
            elif build.state == "failed" and self._on_default_branch(
                pipeline.slug, build.branch, pipeline.default_branch
            ):
                title = f"{pipeline.slug}{number} failed on {build.branch}"
                found.append(ended.failure(service, "build", title))
        return found

    def job(self, event: JobEvent) -> list[Observation]:
        job, pipeline = event.job, event.pipeline
        if job.step_key is None:
            return []
        passed = job.state == "passed" or (job.state == "finished" and job.exit_status == 0)
        failed = job.state in _JOB_FAILED or (job.state == "finished" and job.exit_status != 0)
        if not (passed or failed):
            return []
        ended = _Ended(
            ref=f"job:{job.id}",
            source="buildkite job",
            at=_first(job.finished_at, job.started_at) or event.received_at,
            began=_first(job.started_at, job.finished_at),
            commit=event.build.commit,
            pipeline=pipeline.slug,
            url=job.web_url,
            build_id=event.build.id,
            build_number=event.build.number,
            branch=event.build.branch,
        )
        title = f"deploy step {job.step_key} of {pipeline.slug} failed"
        services = self.catalog.services_for_pipeline(
            pipeline.slug, pipeline.tags, pipeline.repository
        )
        found: list[Observation] = []
        for service in sorted(services):
            if self.catalog.is_deploy(service, pipeline=pipeline.slug, step_key=job.step_key):
                found += self._deploy_or_failure(service, ended, passed, title)
        return found

    def deploy(self, event: DeployEvent) -> list[Observation]:
        service = event.service
        if event.state == "cancelled" or not self.catalog.deploy_counts(service, event.environment):
            return []
        if event.state == "failed":
            at = _first(event.finished_at, event.started_at) or event.received_at
            return [
                FailureSeen(
                    service=service,
                    failure_id=f"deploy:{event.deploy_id}",
                    kind="deploy",
                    at=at,
                    title=f"deploy {event.deploy_id} of {service} to {event.environment} failed",
                    commit=event.commit,
                    url=event.url,
                )
            ]
        return self._with_dependents(
            DeploySeen(
                service=service,
                deployed_service=service,
                deploy_id=f"deploy:{event.deploy_id}",
                at=_first(event.started_at, event.finished_at) or event.received_at,
                state=event.state,
                source=event.source,
                commit=event.commit,
                environment=event.environment,
                url=event.url,
            )
        )

    def incident(self, event: IncidentEvent) -> list[Observation]:
        services = set(self.catalog.services_for_pagerduty(event.service))
        if event.service in self.catalog.services or not services:
            services.add(event.service)
        return [
            IncidentSeen(
                service=service,
                incident_id=event.incident_id,
                at=event.opened_at,
                title=event.title,
                status=event.status,
                source=event.source,
                source_service=event.service,
                number=event.number,
                urgency=event.urgency,
                url=event.url,
            )
            for service in sorted(services)
        ]

    def test_run(self, run: TestRun) -> list[Observation]:
        if not run.failed_tests and not run.failed_count:
            return []
        services = self.catalog.services_for_pipeline(
            run.pipeline
        ) | self.catalog.services_for_suite(run.suite)
        return [
            TestRunSeen(
                service=service,
                pipeline=run.pipeline,
                build_id=run.build_id,
                build_number=run.build_number,
                suite=run.suite,
                at=run.at,
                failed_tests=tuple(run.failed_tests),
                failed_count=run.failed_count,
                known_flaky_failed=tuple(run.known_flaky_failed),
                outage=run.outage,
            )
            for service in sorted(services)
        ]
