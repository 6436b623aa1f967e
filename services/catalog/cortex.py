"""Services from Cortex entity descriptors (``cortex.yaml`` files).

A descriptor keeps its metadata under ``info`` (the OpenAPI form) or at the top::

    info:
      x-cortex-tag: payments-api               # the service name
      x-cortex-type: service                   # teams and domains are skipped
      x-cortex-git:
        github: {repository: acme/payments-api}
      x-cortex-ci-cd:
        buildkite:
          pipelines:
            - slug: payments-api               # a pipeline by slug
            - tag: team-payments               # any pipeline with this tag
      x-cortex-owners:
        - {type: group, name: payments}        # the team, when exactly one group owns it
      x-cortex-oncall:
        pagerduty: {id: PABC123, type: SERVICE}
      x-cortex-dependency:
        - tag: ledger

As in Cortex itself, an entity without ``x-cortex-ci-cd.buildkite`` is matched to the
pipelines tagged with its own tag, and to pipelines building its repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.catalog.model import Origin, Service
from services.catalog.repository import PROVIDER_HOSTS, normalise_repository
from services.catalog.source import Node, Problems, read_document

__all__ = ["Reference", "cortex_files", "read_cortex"]

_SKIPPED_TYPES = {"team", "domain"}


@dataclass(frozen=True)
class Reference:
    """A service named as a dependency; ``strict`` ones must exist in the catalog."""

    name: str
    by: str
    origin: Origin
    strict: bool


def cortex_files(path: Path) -> list[Path]:
    """The descriptor files under ``path`` (a file, or a folder searched recursively)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in (".yaml", ".yml"))
    return [path]


def read_cortex(path: Path, problems: Problems) -> tuple[Service, list[Reference]] | None:
    """The service one descriptor describes, or ``None`` when it describes none."""
    doc = read_document(path, problems)
    if doc is None:
        return None
    top = doc.mapping("a Cortex descriptor")
    info = top["info"].mapping("info") if "info" in top else top
    if "x-cortex-tag" not in info:
        problems.warn(path, doc.line, "no x-cortex-tag: not a Cortex entity, skipped")
        return None
    tag_node = info["x-cortex-tag"]
    name = tag_node.scalar("x-cortex-tag")
    if name is None:
        return None
    if "x-cortex-type" in info:
        kind = (info["x-cortex-type"].scalar("x-cortex-type") or "").lower()
        if kind in _SKIPPED_TYPES:
            return None
    slugs, tags = _pipelines(info)
    repos = _repositories(info)
    if "x-cortex-ci-cd" not in info:
        tags.add(name)  # Cortex's default: pipelines tagged with the entity tag
    origin = Origin(path, tag_node.line)
    references = [
        Reference(dep, name, Origin(path, line), strict=False) for dep, line in _dependencies(info)
    ]
    service = Service(
        name=name,
        pipelines=frozenset(slugs),
        pipeline_tags=frozenset(tags),
        repositories=frozenset(repos),
        pagerduty_services=frozenset(_pagerduty(info)),
        depends_on=frozenset(r.name for r in references),
        team=_team(info),
        origins=(origin,),
    )
    return service, references


def _pipelines(info: dict[str, Node]) -> tuple[set[str], set[str]]:
    slugs: set[str] = set()
    tags: set[str] = set()
    if "x-cortex-ci-cd" not in info:
        return slugs, tags
    cicd = info["x-cortex-ci-cd"].mapping("x-cortex-ci-cd")
    if "buildkite" not in cicd:
        return slugs, tags
    buildkite = cicd["buildkite"].mapping("x-cortex-ci-cd.buildkite")
    if "pipelines" not in buildkite:
        return slugs, tags
    for entry in buildkite["pipelines"].sequence("x-cortex-ci-cd.buildkite.pipelines"):
        fields = entry.mapping("a Buildkite pipeline entry")
        if "slug" in fields and (slug := fields["slug"].scalar("slug")):
            slugs.add(slug.lower())
        elif "tag" in fields and (tag := fields["tag"].scalar("tag")):
            tags.add(tag)
        elif "slug" not in fields and "tag" not in fields:
            entry.fail("a Buildkite pipeline entry needs a slug or a tag")
    return slugs, tags


def _repositories(info: dict[str, Node]) -> set[str]:
    if "x-cortex-git" not in info:
        return set()
    found = set()
    for provider, block in info["x-cortex-git"].mapping("x-cortex-git").items():
        fields = block.mapping(f"x-cortex-git.{provider}")
        if "repository" not in fields:
            continue
        repo = fields["repository"].scalar("repository")
        if repo is None:
            continue
        if provider == "azure" and "project" in fields:
            project = fields["project"].scalar("project") or ""
            repo = f"{project}/{repo}" if "/" not in repo else repo
        normalised = normalise_repository(repo, default_host=PROVIDER_HOSTS.get(provider))
        if normalised is None:
            block.fail(f"cannot read {repo!r} as a {provider} repository")
        else:
            found.add(normalised)
    return found


def _pagerduty(info: dict[str, Node]) -> set[str]:
    if "x-cortex-oncall" not in info:
        return set()
    oncall = info["x-cortex-oncall"].mapping("x-cortex-oncall")
    if "pagerduty" not in oncall:
        return set()
    fields = oncall["pagerduty"].mapping("x-cortex-oncall.pagerduty")
    kind = fields["type"].scalar("type") if "type" in fields else "SERVICE"
    if "id" not in fields or (kind or "").upper() != "SERVICE":
        return set()  # schedules and escalation policies do not name a service
    pid = fields["id"].scalar("x-cortex-oncall.pagerduty.id")
    return {pid} if pid else set()


def _dependencies(info: dict[str, Node]) -> list[tuple[str, int]]:
    if "x-cortex-dependency" not in info:
        return []
    found = []
    for entry in info["x-cortex-dependency"].sequence("x-cortex-dependency"):
        fields = entry.mapping("a dependency")
        if "tag" in fields and (tag := fields["tag"].scalar("tag")):
            found.append((tag, entry.line))
    return found


def _team(info: dict[str, Node]) -> str | None:
    """The owning group's name when exactly one group owns the entity."""
    if "x-cortex-owners" not in info:
        return None
    groups = []
    for entry in info["x-cortex-owners"].sequence("x-cortex-owners"):
        fields = entry.mapping("an owner")
        kind = fields["type"].scalar("type") if "type" in fields else None
        if (kind or "").lower() == "group" and "name" in fields:
            groups.append(fields["name"].scalar("name"))
    return groups[0] if len(groups) == 1 else None
