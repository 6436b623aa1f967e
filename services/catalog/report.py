"""What ``kitestream catalog check`` prints: each service and what maps to it, what the
resource files list that maps to nothing, and the warnings."""

from __future__ import annotations

from typing import Any

from services.catalog.catalog import Catalog
from services.catalog.model import Service

__all__ = ["describe", "render_text"]


def _sorted(values: frozenset[str]) -> list[str]:
    return sorted(values)


def _service(catalog: Catalog, service: Service) -> dict[str, Any]:
    return {
        "team": service.team,
        "pipelines": _sorted(service.pipelines),
        "pipeline_tags": _sorted(service.pipeline_tags),
        "repositories": _sorted(service.repositories),
        "deploy_pipelines": _sorted(service.deploy_pipelines),
        "deploy_steps": _sorted(service.deploy_steps),
        "environments": _sorted(service.environments),
        "test_suites": _sorted(service.test_suites),
        "pagerduty_services": _sorted(service.pagerduty_services),
        "depends_on": _sorted(service.depends_on),
        "dependents": _sorted(catalog.dependents(service.name)),
        "declared_in": [str(o) for o in service.origins],
    }


def describe(catalog: Catalog) -> dict[str, Any]:
    """The check result as plain data (what ``--json`` prints)."""
    return {
        "source": str(catalog.source) if catalog.source else None,
        "services": {name: _service(catalog, s) for name, s in sorted(catalog.services.items())},
        "pipelines": {
            slug: _sorted(catalog.services_for_pipeline(slug)) for slug in sorted(catalog.pipelines)
        },
        "test_suites": {
            slug: _sorted(catalog.services_for_suite(slug)) for slug in sorted(catalog.suites)
        },
        "pagerduty_services": {
            pid: _sorted(catalog.services_for_pagerduty(pid))
            for pid in sorted(catalog.pagerduty_names)
        },
        "unmapped": {
            "pipelines": [p.slug for p in catalog.unmapped_pipelines()],
            "test_suites": [s.slug for s in catalog.unmapped_suites()],
            "pagerduty_services": [pid for pid, _ in catalog.unmapped_pagerduty()],
        },
        "warnings": [str(w) for w in catalog.warnings],
    }


def _line(label: str, values: list[str]) -> str | None:
    return f"    {label:<16}{', '.join(values)}" if values else None


def render_text(catalog: Catalog) -> str:
    """A readable report, one block per service."""
    data = describe(catalog)
    out = [
        f"{data['source']}: {len(catalog.services)} services, "
        f"{len(catalog.pipelines)} pipelines and {len(catalog.suites)} test suites listed, "
        f"{len(catalog.warnings)} warnings",
        "",
    ]
    for name, s in data["services"].items():
        out.append(f"  {name}" + (f"  (team {s['team']})" if s["team"] else ""))
        pipelines = (
            [f"slug {p}" for p in s["pipelines"]]
            + [f"tag {t}" for t in s["pipeline_tags"]]
            + [f"repo {r}" for r in s["repositories"]]
        )
        deploys = [f"pipeline {p}" for p in s["deploy_pipelines"]] + [
            f"step {k}" for k in s["deploy_steps"]
        ]
        rows = [
            _line("builds from", pipelines),
            _line("deploys by", deploys),
            _line("environments", s["environments"]),
            _line("test suites", s["test_suites"]),
            _line("PagerDuty", s["pagerduty_services"]),
            _line("depends on", s["depends_on"]),
            _line("depended on by", s["dependents"]),
        ]
        out.extend(r for r in rows if r is not None)
    for title, key in (
        ("pipelines.json", "pipelines"),
        ("test_suites.json", "test_suites"),
        ("PagerDuty services", "pagerduty_services"),
    ):
        if data[key]:
            out += ["", f"{title}:"]
            for item, services in data[key].items():
                out.append(f"  {item:<28} -> {', '.join(services) or 'NOTHING (unmapped)'}")
    unmapped = data["unmapped"]
    total = sum(len(v) for v in unmapped.values())
    out += ["", f"unmapped: {total}" + (" (listed above as NOTHING)" if total else "")]
    if data["warnings"]:
        out += ["", "warnings:"] + [f"  {w}" for w in data["warnings"]]
    return "\n".join(out) + "\n"
