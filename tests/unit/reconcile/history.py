"""A generated Buildkite history: REST build objects (jobs embedded) and the webhooks
Buildkite would have sent for them.

Per pipeline, one build every ``every`` on ``main``, each with a ``lint`` and a
``unit-tests`` command job and a waiter. In a *flaky* pipeline, every third build's
``unit-tests`` job fails and its automatic retry passes on the same commit (the retried
job stays in the build: ``include_retried_jobs=true`` lists it); every other job passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["ORG", "History", "generate", "stamp", "webhooks"]

ORG = "acme"
API = f"https://api.buildkite.com/v2/organizations/{ORG}"


def stamp(at: datetime) -> str:
    """Buildkite's timestamp form, milliseconds and ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class History:
    builds: list[dict[str, Any]]  # REST build objects, oldest first
    flaky_pipelines: frozenset[str]


def _pipeline(slug: str) -> dict[str, Any]:
    return {
        "id": f"pipeline-{slug}",
        "graphql_id": f"UGlwZWxpbmUt{slug}",
        "url": f"{API}/pipelines/{slug}",
        "web_url": f"https://buildkite.com/{ORG}/{slug}",
        "name": slug.title(),
        "slug": slug,
        "repository": f"git@github.com:{ORG}/{slug}.git",
        "default_branch": "main",
        "provider": {"id": "github", "settings": {"repository": f"{ORG}/{slug}"}},
        "tags": ["team-ci"],
        "created_at": "2024-01-01T00:00:00.000Z",
    }


def _job(
    build: dict[str, Any],
    n: int,
    *,
    key: str,
    state: str,
    start: datetime,
    minutes: float,
    **extra: Any,
) -> dict[str, Any]:
    job_id = f"{build['id']}-{key}-{n}"
    finished = start + timedelta(minutes=minutes)
    job: dict[str, Any] = {
        "id": job_id,
        "graphql_id": f"Sm9i{job_id}",
        "type": "script",
        "name": f":hammer: {key}",
        "step_key": key,
        "step": {"id": f"step-{key}", "signature": None},
        "priority": {"number": 0},
        "agent_query_rules": ["queue=default"],
        "state": state,
        "build_url": build["url"],
        "web_url": f"{build['web_url']}#{job_id}",
        "log_url": f"{build['url']}/jobs/{job_id}/log",
        "command": f"make {key}",
        "soft_failed": False,
        "exit_status": 0 if state == "passed" else 1,
        "artifact_paths": "",
        "agent": {"id": "agent-1", "name": "ci-1", "hostname": "ci-1.internal"},
        "created_at": stamp(start - timedelta(seconds=30)),
        "scheduled_at": stamp(start - timedelta(seconds=30)),
        "runnable_at": stamp(start - timedelta(seconds=20)),
        "started_at": stamp(start),
        "finished_at": stamp(finished),
        "retried": False,
        "retried_in_job_id": None,
        "retries_count": None,
        "retry_type": None,
        "retry_source": None,
        "parallel_group_index": None,
        "parallel_group_total": None,
    }
    job.update(extra)
    return job


def generate(
    pipelines: list[str],
    *,
    start: datetime,
    builds: int,
    every: timedelta,
    flaky: frozenset[str] = frozenset(),
) -> History:
    out: list[dict[str, Any]] = []
    for p_index, slug in enumerate(pipelines):
        pipeline = _pipeline(slug)
        for n in range(1, builds + 1):
            created = start + every * (n - 1) + timedelta(seconds=7 * p_index)
            build_id = f"{slug}-build-{n:04d}"
            url = f"{API}/pipelines/{slug}/builds/{n}"
            build: dict[str, Any] = {
                "id": build_id,
                "graphql_id": f"QnVpbGQ{build_id}",
                "url": url,
                "web_url": f"https://buildkite.com/{ORG}/{slug}/builds/{n}",
                "number": n,
                "state": "passed",
                "blocked": False,
                "cancel_reason": None,
                "message": f"change {n}",
                "commit": hashlib.sha256(f"{slug}-{n}".encode()).hexdigest()[:40],
                "branch": "main",
                "env": {},
                "source": "webhook",
                "creator": {"id": "u1", "name": "Ada", "email": "ada@example.com"},
                "author": {"name": "Ada", "email": "ada@example.com"},
                "created_at": stamp(created),
                "scheduled_at": stamp(created + timedelta(seconds=1)),
                "started_at": stamp(created + timedelta(seconds=5)),
                "meta_data": {},
                "pull_request": None,
                "rebuilt_from": None,
                "pipeline": pipeline,
            }
            run = created + timedelta(seconds=10)
            jobs = [
                _job(build, n, key="lint", state="passed", start=run, minutes=2),
                {"id": f"{build_id}-wait", "type": "waiter", "step_key": None},
            ]
            if slug in flaky and n % 3 == 0:
                first = _job(build, n, key="unit-tests", state="failed", start=run, minutes=5)
                retry = _job(
                    build,
                    n,
                    key="unit-tests-retry",
                    state="passed",
                    start=run + timedelta(minutes=6),
                    minutes=5,
                    step_key="unit-tests",
                    retries_count=1,
                    retry_type="automatic",
                    retry_source={"job_id": first["id"], "retry_type": "automatic"},
                )
                first.update(retried=True, retried_in_job_id=retry["id"])
                jobs += [first, retry]
            else:
                jobs.append(_job(build, n, key="unit-tests", state="passed", start=run, minutes=5))
            build["jobs"] = jobs
            last = run + timedelta(minutes=12 if slug in flaky and n % 3 == 0 else 6)
            build["finished_at"] = stamp(last)  # after its last job
            out.append(build)
    out.sort(key=lambda b: b["created_at"])
    return History(out, flaky)


def webhooks(build: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The ``job.finished`` and ``build.finished`` webhooks Buildkite sends for ``build``:
    the pipeline at the top level, no job list in the build, and a ``sender``."""
    bare = {k: v for k, v in build.items() if k not in ("jobs", "pipeline")}
    sender = {"id": "u1", "name": "Ada"}
    out: list[tuple[str, dict[str, Any]]] = []
    for job in build["jobs"]:
        if job.get("type") == "script":
            body = {"event": "job.finished", "job": job, "build": bare, "sender": sender}
            out.append(("job.finished", {**body, "pipeline": build["pipeline"]}))
    body = {"event": "build.finished", "build": bare, "sender": sender}
    out.append(("build.finished", {**body, "pipeline": build["pipeline"]}))
    return out
