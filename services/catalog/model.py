"""What the catalog knows: services, and the pipelines and suites its resource files list."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Origin", "PipelineInfo", "Service", "SuiteInfo"]


@dataclass(frozen=True)
class Origin:
    """Where something was declared, for messages."""

    file: Path
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)


@dataclass(frozen=True)
class Service:
    """One service and everything that maps to it.

    ``repositories`` hold normalised names (``github.com/acme/payments-api``, see
    :func:`services.catalog.repository.normalise_repository`). ``environments``, when
    not empty, limits which deploys count (a deploy with no environment always counts).
    """

    name: str
    pipelines: frozenset[str] = frozenset()
    pipeline_tags: frozenset[str] = frozenset()
    repositories: frozenset[str] = frozenset()
    deploy_pipelines: frozenset[str] = frozenset()
    deploy_steps: frozenset[str] = frozenset()
    test_suites: frozenset[str] = frozenset()
    pagerduty_services: frozenset[str] = frozenset()
    depends_on: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()
    team: str | None = None
    origins: tuple[Origin, ...] = field(default=(), compare=False)

    def merged(self, other: Service) -> Service:
        """Both declarations of one service as one (a catalog entry plus a Cortex entity)."""
        return Service(
            name=self.name,
            pipelines=self.pipelines | other.pipelines,
            pipeline_tags=self.pipeline_tags | other.pipeline_tags,
            repositories=self.repositories | other.repositories,
            deploy_pipelines=self.deploy_pipelines | other.deploy_pipelines,
            deploy_steps=self.deploy_steps | other.deploy_steps,
            test_suites=self.test_suites | other.test_suites,
            pagerduty_services=self.pagerduty_services | other.pagerduty_services,
            depends_on=self.depends_on | other.depends_on,
            environments=self.environments | other.environments,
            team=self.team if self.team is not None else other.team,
            origins=self.origins + other.origins,
        )

    def deploys_to(self, environment: str | None) -> bool:
        """Whether a deploy to ``environment`` counts as a deploy of this service."""
        return environment is None or not self.environments or environment in self.environments


@dataclass(frozen=True)
class PipelineInfo:
    """A pipeline as Buildkite's REST API lists it (``pipelines.json``)."""

    slug: str
    name: str | None = None
    repository: str | None = None  # normalised
    tags: frozenset[str] = frozenset()
    default_branch: str | None = None
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SuiteInfo:
    """A Test Engine suite as Buildkite's REST API lists it (``test_suites.json``)."""

    slug: str
    name: str | None = None
    default_branch: str | None = None
    origin: Origin | None = field(default=None, compare=False)
