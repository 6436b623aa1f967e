"""Resource files as Buildkite's and PagerDuty's REST APIs list them.

- ``pipelines.json``: ``GET /v2/organizations/{org}/pipelines``, an array of pipelines
  (``slug`` required; ``name``, ``repository``, ``tags``, ``default_branch`` read). A
  listed pipeline maps to a service by slug, tag or repository like a live event does,
  and its default branch decides which failed builds count.
- ``test_suites.json``: ``GET /v2/analytics/organizations/{org}/suites``, an array of
  suites (``slug`` required; ``name``, ``default_branch`` read).
- ``pagerduty_json``: PagerDuty's ``GET /services``, ``{"services": [...]}`` or an array,
  each with ``id`` and ``name``; read so that ``catalog check`` can name the PagerDuty
  services that no catalog service claims.

Each file may also wrap its array in an object under the plural key
(``{"pipelines": [...]}``), as paginated exports often do.
"""

from __future__ import annotations

from pathlib import Path

from services.catalog.model import Origin, PipelineInfo, SuiteInfo
from services.catalog.repository import normalise_repository
from services.catalog.source import Node, Problems, read_document

__all__ = ["read_pagerduty_json", "read_pipelines_json", "read_suites_json"]


def _entries(path: Path, problems: Problems, wrapper: str) -> list[dict[str, Node]]:
    doc = read_document(path, problems)
    if doc is None:
        return []
    if doc.is_mapping:
        top = doc.mapping(path.name)
        if wrapper not in top:
            doc.fail(f"expected an array, or an object with {wrapper!r}")
            return []
        doc = top[wrapper]
    return [item.mapping(f"each entry of {path.name}") for item in doc.sequence(path.name)]


def _optional(fields: dict[str, Node], key: str) -> str | None:
    node = fields.get(key)
    if node is None or node.is_null:
        return None
    return node.scalar(key)


def _slug(fields: dict[str, Node], path: Path, problems: Problems, line: int) -> str | None:
    if "slug" not in fields:
        problems.error(path, line, "an entry without a slug")
        return None
    return fields["slug"].scalar("slug")


def read_pipelines_json(path: Path, problems: Problems) -> list[PipelineInfo]:
    found = []
    for fields in _entries(path, problems, "pipelines"):
        line = min((n.line for n in fields.values()), default=None)
        slug = _slug(fields, path, problems, line or 1)
        if slug is None:
            continue
        repo = _optional(fields, "repository")
        tags = [t for t, _ in fields["tags"].strings("tags")] if "tags" in fields else []
        found.append(
            PipelineInfo(
                slug=slug.lower(),
                name=_optional(fields, "name"),
                repository=normalise_repository(repo) if repo else None,
                tags=frozenset(tags),
                default_branch=_optional(fields, "default_branch"),
                origin=Origin(path, line),
            )
        )
    return found


def read_suites_json(path: Path, problems: Problems) -> list[SuiteInfo]:
    found = []
    for fields in _entries(path, problems, "suites"):
        line = min((n.line for n in fields.values()), default=None)
        slug = _slug(fields, path, problems, line or 1)
        if slug is None:
            continue
        found.append(
            SuiteInfo(
                slug=slug,
                name=_optional(fields, "name"),
                default_branch=_optional(fields, "default_branch"),
                origin=Origin(path, line),
            )
        )
    return found


def read_pagerduty_json(path: Path, problems: Problems) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for fields in _entries(path, problems, "services"):
        if "id" not in fields:
            line = min((n.line for n in fields.values()), default=None)
            problems.error(path, line, "a PagerDuty service without an id")
            continue
        pid = fields["id"].scalar("id")
        if pid is not None:
            found[pid] = _optional(fields, "name") or _optional(fields, "summary")
    return found
