"""Buildkite webhook payloads shaped like the real ones (fields as Buildkite documents them)."""

from __future__ import annotations

from typing import Any

ORG = "https://api.buildkite.com/v2/organizations/acme"


def pipeline(slug: str = "payments-api") -> dict[str, Any]:
    return {
        "id": "0188b9a4-5e3f-4b6a-9c39-3f6d0a8c1f11",
        "graphql_id": "UGlwZWxpbmUtLS0wMTg4Yjlh",
        "url": f"{ORG}/pipelines/{slug}",
        "web_url": f"https://buildkite.com/acme/{slug}",
        "name": slug.replace("-", " ").title(),
        "description": "Builds, tests and deploys the service",
        "slug": slug,
        "repository": f"git@github.com:acme/{slug}.git",
        "cluster_id": "7c1d2f0e-1234-4c9a-8d0e-6b7c5a4d3e21",
        "branch_configuration": "main release/*",
        "default_branch": "main",
        "skip_queued_branch_builds": False,
        "cancel_running_branch_builds": True,
        "provider": {
            "id": "github",
            "webhook_url": "https://webhook.buildkite.com/deliver/abcdef0123456789",
            "settings": {
                "trigger_mode": "code",
                "build_pull_requests": True,
                "publish_commit_status": True,
                "repository": f"acme/{slug}",
            },
        },
        "builds_url": f"{ORG}/pipelines/{slug}/builds",
        "badge_url": "https://badge.buildkite.com/0123456789abcdef.svg",
        "created_at": "2023-06-14T09:12:31.000Z",
        "env": {"DOCKER_BUILDKIT": "1"},
        "scheduled_builds_count": 0,
        "running_builds_count": 1,
        "scheduled_jobs_count": 0,
        "running_jobs_count": 2,
        "waiting_jobs_count": 0,
        "visibility": "private",
        "tags": ["team-payments", "tier-1"],
        "steps": [
            {
                "type": "script",
                "name": f":pytest: tests {n}",
                "command": "make test",
                "key": f"tests-{n}",
                "agent_query_rules": ["queue=default"],
                "artifact_paths": "reports/**/*",
                "timeout_in_minutes": 30,
            }
            for n in range(7)
        ],
    }


def creator() -> dict[str, Any]:
    return {
        "id": "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de",
        "graphql_id": "VXNlci0tLTNkM2MzYmYw",
        "name": "Keith Pitt",
        "email": "keith@example.com",
        "avatar_url": "https://www.gravatar.com/avatar/e14f55d3f939977cecbf51b64ff6f861",
        "created_at": "2015-05-22T12:36:45.309Z",
    }


def build(
    build_id: str = "f62a1b4d-10f9-4790-bc1c-e2c3a0c80983",
    *,
    number: int = 1514,
    state: str = "passed",
    finished_at: str | None = "2026-08-01T10:08:41.000Z",
) -> dict[str, Any]:
    return {
        "id": build_id,
        "graphql_id": "QnVpbGQtLS1mNjJhMWI0ZA==",
        "url": f"{ORG}/pipelines/payments-api/builds/{number}",
        "web_url": f"https://buildkite.com/acme/payments-api/builds/{number}",
        "number": number,
        "state": state,
        "cancel_reason": None,
        "blocked": False,
        "blocked_state": "",
        "message": "Retry card authorisations with jitter (#4821)",
        "commit": "a65572555600c07c7ee79a2bd909bd4e2b5a0a1c",
        "branch": "main",
        "tag": None,
        "env": {"DEPLOY_ENV": "production"},
        "source": "webhook",
        "creator": creator(),
        "author": {"name": "Keith Pitt", "email": "keith@example.com", "username": "keithpitt"},
        "created_at": "2026-08-01 10:00:05 UTC",
        "scheduled_at": "2026-08-01T10:00:05.000Z",
        "started_at": "2026-08-01T10:00:09.000Z",
        "finished_at": finished_at,
        "meta_data": {"release-version": "2026.08.01-3", "buildkite:git:commit": "a655725"},
        "pull_request": None,
        "rebuilt_from": None,
        "pipeline": {"id": pipeline()["id"], "slug": "payments-api"},
    }


def build_webhook(event: str = "build.finished", **kwargs: Any) -> dict[str, Any]:
    return {
        "event": event,
        "build": build(**kwargs),
        "pipeline": pipeline(),
        "sender": {"id": creator()["id"], "name": creator()["name"]},
    }


def agent(agent_id: str = "0b461f65-e7be-4c80-888a-ef11d81fd971") -> dict[str, Any]:
    return {
        "id": agent_id,
        "graphql_id": "QWdlbnQtLS0wYjQ2MWY2NQ==",
        "url": f"{ORG}/agents/{agent_id}",
        "web_url": f"https://buildkite.com/organizations/acme/agents/{agent_id}",
        "name": "ci-agent-7",
        "connection_state": "connected",
        "hostname": "ip-10-0-3-17",
        "ip_address": "10.0.3.17",
        "user_agent": "buildkite-agent/3.80.0.10001 (linux; amd64)",
        "version": "3.80.0",
        "creator": None,
        "created_at": "2026-08-01T09:00:00.000Z",
        "last_job_finished_at": "2026-08-01T09:58:00.000Z",
        "priority": 0,
        "meta_data": ["queue=default", "os=linux"],
    }


def job(
    job_id: str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e",
    *,
    state: str = "failed",
    exit_status: int | None = 1,
    retry_source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": job_id,
        "graphql_id": "Sm9iLS0tYjYzMjU0YzA=",
        "type": "script",
        "name": ":pytest: tests 2",
        "step_key": "tests-2",
        "step": {"id": "0188b9a4-step", "signature": None},
        "agent_query_rules": ["queue=default"],
        "state": state,
        "build_url": f"{ORG}/pipelines/payments-api/builds/1514",
        "web_url": "https://buildkite.com/acme/payments-api/builds/1514#" + job_id,
        "log_url": f"{ORG}/pipelines/payments-api/builds/1514/jobs/{job_id}/log",
        "command": "make test",
        "soft_failed": False,
        "exit_status": exit_status,
        "artifact_paths": "reports/**/*",
        "agent": agent(),
        "created_at": "2026-08-01T10:00:05.000Z",
        "scheduled_at": "2026-08-01T10:00:05.000Z",
        "runnable_at": "2026-08-01T10:00:06.000Z",
        "started_at": "2026-08-01T10:00:09.000Z",
        "finished_at": "2026-08-01T10:04:12.000Z",
        "retried": False,
        "retried_in_job_id": None,
        "retries_count": None,
        "retry_source": retry_source,
        "retry_type": None,
        "parallel_group_index": 2,
        "parallel_group_total": 4,
        "matrix": None,
    }


def job_webhook(event: str = "job.finished", **kwargs: Any) -> dict[str, Any]:
    return {
        "event": event,
        "job": job(**kwargs),
        "build": build(),
        "pipeline": pipeline(),
        "sender": {"id": creator()["id"], "name": creator()["name"]},
    }


def agent_webhook(event: str = "agent.connected", **kwargs: Any) -> dict[str, Any]:
    return {"event": event, "agent": agent(**kwargs), "sender": {"id": "x", "name": "y"}}
