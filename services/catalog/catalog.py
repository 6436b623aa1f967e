"""The loaded catalog and the questions the correlator and the dispatcher ask it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from services.catalog.errors import Problem
from services.catalog.model import PipelineInfo, Service, SuiteInfo
from services.catalog.repository import normalise_repository

__all__ = ["Catalog"]


def _index(services: Iterable[Service], attr: str) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for service in services:
        for value in getattr(service, attr):
            found[value].add(service.name)
    return {value: frozenset(names) for value, names in found.items()}


class Catalog:
    """Services by name, plus what the resource files list; not changed once built.

    A reload builds a new :class:`Catalog` and swaps it in whole, so a reader never sees
    half of one and half of another.
    """

    def __init__(
        self,
        services: Mapping[str, Service] | None = None,
        *,
        pipelines: Mapping[str, PipelineInfo] | None = None,
        suites: Mapping[str, SuiteInfo] | None = None,
        pagerduty_names: Mapping[str, str | None] | None = None,
        source: Path | None = None,
        warnings: Iterable[Problem] = (),
    ) -> None:
        self.services: Mapping[str, Service] = dict(services or {})
        self.pipelines: Mapping[str, PipelineInfo] = dict(pipelines or {})
        self.suites: Mapping[str, SuiteInfo] = dict(suites or {})
        self.pagerduty_names: Mapping[str, str | None] = dict(pagerduty_names or {})
        self.source = source
        self.warnings = tuple(warnings)
        values = list(self.services.values())
        self._by = {
            attr: _index(values, attr)
            for attr in (
                "pipelines",
                "pipeline_tags",
                "repositories",
                "deploy_pipelines",
                "test_suites",
                "pagerduty_services",
                "depends_on",
            )
        }

    def _lookup(self, attr: str, value: str) -> frozenset[str]:
        return self._by[attr].get(value, frozenset())

    # -- pipelines --------------------------------------------------------------------

    def services_for_pipeline(
        self, slug: str, tags: Iterable[str] = (), repository: str | None = None
    ) -> frozenset[str]:
        """Services a pipeline belongs to: by slug (its own or a deploy pipeline), by any
        of its tags, or by its repository in any Git URL form. What ``pipelines.json``
        says of the slug (tags, repository) counts as if the event had said it."""
        slug = slug.lower()
        found = self._lookup("pipelines", slug) | self._lookup("deploy_pipelines", slug)
        known = self.pipelines.get(slug)
        all_tags = set(tags) | (set(known.tags) if known else set())
        for tag in all_tags:
            found |= self._lookup("pipeline_tags", tag)
        repos = {known.repository} if known and known.repository else set()
        if repository and (normalised := normalise_repository(repository)):
            repos.add(normalised)
        for repo in repos:
            found |= self._lookup("repositories", repo)
            host, _, path = repo.partition("/")
            if host == "dev.azure.com" and path.count("/") == 2:
                # Cortex names Azure repositories by project/repo; the org is not in it.
                found |= self._lookup("repositories", f"{host}/{path.partition('/')[2]}")
        return found

    def is_deploy(self, service: str, *, pipeline: str, step_key: str | None = None) -> bool:
        """Whether a passed build of ``pipeline`` (``step_key`` None), or a passed job with
        ``step_key``, is a deploy of ``service``."""
        known = self.services.get(service)
        if known is None:
            return False
        if step_key is None:
            return pipeline.lower() in known.deploy_pipelines
        return step_key in known.deploy_steps

    def default_branch(self, pipeline: str) -> str | None:
        known = self.pipelines.get(pipeline.lower())
        return known.default_branch if known else None

    # -- suites, incidents, dependencies, teams ------------------------------------------

    def services_for_suite(self, suite: str) -> frozenset[str]:
        return self._lookup("test_suites", suite)

    def services_for_pagerduty(self, service_id: str) -> frozenset[str]:
        return self._lookup("pagerduty_services", service_id)

    def dependents(self, service: str) -> frozenset[str]:
        """Services that name ``service`` in their ``depends_on`` (direct only)."""
        return self._lookup("depends_on", service)

    def team_of(self, service: str) -> str | None:
        known = self.services.get(service)
        return known.team if known else None

    def deploy_counts(self, service: str, environment: str | None) -> bool:
        """Whether a deploy to ``environment`` counts for ``service`` (unknown: it does)."""
        known = self.services.get(service)
        return known is None or known.deploys_to(environment)

    # -- what maps to nothing ------------------------------------------------------------

    def unmapped_pipelines(self) -> list[PipelineInfo]:
        """Pipelines from ``pipelines.json`` that belong to no service."""
        return [
            p for slug, p in sorted(self.pipelines.items()) if not self.services_for_pipeline(slug)
        ]

    def unmapped_suites(self) -> list[SuiteInfo]:
        return [s for slug, s in sorted(self.suites.items()) if not self.services_for_suite(slug)]

    def unmapped_pagerduty(self) -> list[tuple[str, str | None]]:
        """PagerDuty services from the resource files that no catalog service names."""
        return [
            (pid, name)
            for pid, name in sorted(self.pagerduty_names.items())
            if not self.services_for_pagerduty(pid)
        ]
