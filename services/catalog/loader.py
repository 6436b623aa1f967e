"""Reading ``KITESTREAM_CATALOG``: the YAML file and everything it includes.

::

    services:
      payments-api:
        pipelines: [payments-api]
        pipeline_tags: [team-payments]
        repositories: [git@github.com:acme/payments-api.git]
        deploy_pipelines: [payments-api-deploy]
        deploy_steps: [deploy-production]
        test_suites: [payments-pytest]
        pagerduty_services: [PABC123]
        depends_on: [ledger]
        environments: [production]     # deploys elsewhere do not count (default: all do)
        team: payments                 # for alert routing
    include:                           # paths relative to this file; globs allowed
      cortex: [cortex/]                # descriptor files, or folders searched recursively
      pipelines_json: [resources/pipelines.json]
      test_suites_json: [resources/test_suites.json]
      pagerduty_json: [resources/pagerduty_services.json]

A service named both here and in a Cortex descriptor is one service with the lists of
both (this file's ``team`` wins). Every problem is reported with its file and line.
"""

from __future__ import annotations

import difflib
import glob
from collections.abc import Callable
from pathlib import Path

from services.catalog.catalog import Catalog
from services.catalog.cortex import Reference, cortex_files, read_cortex
from services.catalog.errors import CatalogError
from services.catalog.model import Origin, PipelineInfo, Service, SuiteInfo
from services.catalog.repository import normalise_repository
from services.catalog.resources import read_pagerduty_json, read_pipelines_json, read_suites_json
from services.catalog.source import Node, Problems, read_document

__all__ = ["INCLUDE_KEYS", "SERVICE_KEYS", "SERVICE_LIST_KEYS", "load_catalog"]

SERVICE_LIST_KEYS = (
    "pipelines",
    "pipeline_tags",
    "repositories",
    "deploy_pipelines",
    "deploy_steps",
    "test_suites",
    "pagerduty_services",
    "depends_on",
    "environments",
)
SERVICE_KEYS = (*SERVICE_LIST_KEYS, "team")
INCLUDE_KEYS = ("cortex", "pipelines_json", "test_suites_json", "pagerduty_json")
_TOP_KEYS = ("services", "include")


def load_catalog(path: Path | str) -> Catalog:
    """The catalog at ``path``; raises :class:`CatalogError` listing every error found."""
    problems = Problems()
    catalog = _Builder(Path(path), problems).build()
    if problems.errors:
        raise CatalogError(problems.errors, warnings=problems.warnings)
    return catalog


def _unknown_key(mapping: Node, key: str, known: tuple[str, ...], where: str) -> None:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    mapping.problems.error(
        mapping.file,
        mapping.key_lines().get(key, mapping.line),
        f"unknown key {key!r} in {where}{hint}; known: {', '.join(known)}",
    )


class _Builder:
    def __init__(self, path: Path, problems: Problems) -> None:
        self.path = path
        self.problems = problems
        self.services: dict[str, Service] = {}
        self.references: list[Reference] = []
        self.pipelines: dict[str, PipelineInfo] = {}
        self.suites: dict[str, SuiteInfo] = {}
        self.pagerduty: dict[str, str | None] = {}

    def build(self) -> Catalog:
        doc = read_document(self.path, self.problems)
        if doc is not None:
            top = doc.mapping("the catalog")
            for key in top:
                if key not in _TOP_KEYS:
                    _unknown_key(doc, key, _TOP_KEYS, "the catalog")
            if "services" in top:
                services = top["services"]
                lines = services.key_lines()
                for name, node in services.mapping("services").items():
                    self._add(self._service(name, node, lines.get(name, node.line)))
            elif "include" not in top and all(k in _TOP_KEYS for k in top):
                doc.fail("the catalog has no 'services' (and includes nothing)")
            if "include" in top:
                self._includes(top["include"])
        self._check_references()
        return Catalog(
            self.services,
            pipelines=self.pipelines,
            suites=self.suites,
            pagerduty_names=self.pagerduty,
            source=self.path,
            warnings=self.problems.warnings,
        )

    def _add(self, service: Service) -> None:
        known = self.services.get(service.name)
        self.services[service.name] = known.merged(service) if known else service

    def _service(self, name: str, node: Node, declared_at: int) -> Service:
        fields = node.mapping(f"service {name!r}")
        values: dict[str, list[tuple[str, int]]] = {}
        for key, value in fields.items():
            if key in SERVICE_LIST_KEYS:
                values[key] = value.strings(f"{name}.{key}")
            elif key != "team":
                _unknown_key(node, key, SERVICE_KEYS, f"service {name!r}")
        repos = set()
        for url, at in values.get("repositories", []):
            normalised = normalise_repository(url)
            if normalised is None:
                self.problems.error(self.path, at, f"{name}: {url!r} is not a Git repository URL")
            else:
                repos.add(normalised)
        for dep, at in values.get("depends_on", []):
            self.references.append(Reference(dep, name, Origin(self.path, at), strict=True))

        def pick(key: str, fold: Callable[[str], str] = str) -> frozenset[str]:
            return frozenset(fold(v) for v, _ in values.get(key, []))

        return Service(
            name=name,
            pipelines=pick("pipelines", str.lower),
            pipeline_tags=pick("pipeline_tags"),
            repositories=frozenset(repos),
            deploy_pipelines=pick("deploy_pipelines", str.lower),
            deploy_steps=pick("deploy_steps"),
            test_suites=pick("test_suites"),
            pagerduty_services=pick("pagerduty_services"),
            depends_on=pick("depends_on"),
            environments=pick("environments"),
            team=fields["team"].scalar(f"{name}.team") if "team" in fields else None,
            origins=(Origin(self.path, declared_at),),
        )

    def _includes(self, node: Node) -> None:
        for key, value in node.mapping("include").items():
            if key not in INCLUDE_KEYS:
                _unknown_key(node, key, INCLUDE_KEYS, "include")
                continue
            for entry, line in value.strings(f"include.{key}"):
                for path in self._resolve(entry, line):
                    self._include(key, path)

    def _resolve(self, entry: str, line: int) -> list[Path]:
        base = self.path.parent
        if glob.has_magic(entry):
            matches = sorted(Path(p) for p in glob.glob(str(base / entry), recursive=True))
            if not matches:
                self.problems.warn(self.path, line, f"{entry!r} matches no file")
            return matches
        path = base / entry
        if not path.exists():
            self.problems.error(self.path, line, f"{entry!r} does not exist ({path})")
            return []
        return [path]

    def _include(self, key: str, path: Path) -> None:
        if key == "cortex":
            for file in cortex_files(path):
                found = read_cortex(file, self.problems)
                if found is not None:
                    self._add(found[0])
                    self.references.extend(found[1])
        elif key == "pipelines_json":
            self.pipelines.update((p.slug, p) for p in read_pipelines_json(path, self.problems))
        elif key == "test_suites_json":
            self.suites.update((s.slug, s) for s in read_suites_json(path, self.problems))
        else:
            self.pagerduty.update(read_pagerduty_json(path, self.problems))

    def _check_references(self) -> None:
        for ref in self.references:
            if ref.name == ref.by:
                self.problems.error(ref.origin.file, ref.origin.line, f"{ref.by} depends on itself")
            elif ref.name not in self.services:
                message = f"{ref.by} depends on {ref.name!r}, which is not in the catalog"
                if ref.strict:
                    self.problems.error(ref.origin.file, ref.origin.line, message)
                else:
                    self.problems.warn(ref.origin.file, ref.origin.line, message)
        for service in self.services.values():
            if not (
                service.pipelines
                or service.pipeline_tags
                or service.repositories
                or service.deploy_pipelines
            ):
                origin = service.origins[0] if service.origins else Origin(self.path, None)
                self.problems.warn(
                    origin.file, origin.line, f"{service.name}: no pipeline maps to this service"
                )
