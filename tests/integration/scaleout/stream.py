"""The steady stream of the broker-loss test: many small stories, each of which gives
exactly one ``failure_deploy_incident`` alert and one ``flaky_test`` alert.

Story *i* is about service ``svc-i`` (pipeline ``svc-i``, PagerDuty service ``PSVC{i}``
in :func:`catalog_yaml`): a deploy, a failed build of the deployed commit on ``main``,
an incident ten minutes later, and two test uploads of that commit in which
``test_flaky_i`` fails and then passes (same-commit evidence) beside two tests that
always pass. Nothing links one story to another, so the alerts of an undisturbed run
are known in advance: :func:`expected_alerts`.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.ingest.pagerduty import sign as pagerduty_sign
from services.receiver.signature import sign as buildkite_sign

__all__ = ["CREDENTIALS", "Request", "catalog_yaml", "expected_alerts", "routes_yaml", "stories"]

WEBHOOK_TOKEN = "scale-webhook-token"
API_TOKEN = "scale-api-token"
PAGERDUTY_SECRET = "scale-pagerduty-secret"
SUITE = "scale-suite"
SUITE_TOKEN = "scale-suite-token"

CREDENTIALS = {
    "KITESTREAM_BUILDKITE_TOKENS": WEBHOOK_TOKEN,
    "KITESTREAM_TEST_SUITES": f"{SUITE}={SUITE_TOKEN}",
    "KITESTREAM_PAGERDUTY_SECRETS": PAGERDUTY_SECRET,
    "KITESTREAM_API_TOKENS": API_TOKEN,
}

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Request:
    label: str
    path: str
    headers: dict[str, str]
    body: bytes


def catalog_yaml(count: int) -> str:
    lines = ["services:"]
    for i in range(count):
        lines += [
            f"  svc-{i}:",
            f"    pipelines: [svc-{i}]",
            f"    test_suites: [{SUITE}]",
            f"    pagerduty_services: [PSVC{i}]",
        ]
    return "\n".join(lines) + "\n"


def routes_yaml(hook_url: str) -> str:
    return (
        "sinks:\n"
        f"  hook: {{type: webhook, url: '{hook_url}', secret_env: SCALE_HOOK_SECRET,"
        " allow_private: true}\n"
        "routes:\n"
        "  - to: [hook]\n"
    )


def expected_alerts(count: int) -> set[tuple[str, str]]:
    """(kind, subject) of every alert an undisturbed run gives: the service of each
    correlated alert, the test name of each flaky one."""
    return {("failure_deploy_incident", f"svc-{i}") for i in range(count)} | {
        ("flaky_test", f"test_flaky_{i}") for i in range(count)
    }


def subject(alert: dict[str, Any]) -> tuple[str, str]:
    """The (kind, subject) an alert is about, as :func:`expected_alerts` names them."""
    if alert["kind"] == "failure_deploy_incident":
        return alert["kind"], str(alert["service"])
    return alert["kind"], str((alert.get("test") or {}).get("name"))


def stories(count: int, now: datetime, run: str) -> list[Request]:
    """Every story's requests, interleaved story by story (five requests each)."""
    requests: list[Request] = []
    for i in range(count):
        requests += _story(i, now, run)
    return requests


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _story(i: int, now: datetime, run: str) -> list[Request]:
    service = f"svc-{i}"
    commit = hashlib.sha1(f"{run}-{i}".encode(), usedforsecurity=False).hexdigest()
    deploy = {
        "service": service,
        "deploy_id": f"deploy-{run}-{i}",
        "state": "succeeded",
        "commit": commit,
        "started_at": _iso(now - timedelta(minutes=32)),
        "finished_at": _iso(now - timedelta(minutes=30)),
        "url": f"https://buildkite.com/acme/{service}-deploy/builds/{i}",
        "source": "buildkite",
    }
    build = orjson.dumps(
        {
            "event": "build.finished",
            "build": {
                "id": f"build-{run}-{i}",
                "number": 1000 + i,
                "state": "failed",
                "branch": "main",
                "commit": commit,
                "message": f"change {i}",
                "web_url": f"https://buildkite.com/acme/{service}/builds/{1000 + i}",
                "started_at": _iso(now - timedelta(minutes=28)),
                "finished_at": _iso(now - timedelta(minutes=25)),
            },
            "pipeline": {"slug": service, "default_branch": "main"},
        }
    )
    incident = orjson.dumps(
        {
            "event": {
                "id": f"evt-{run}-{i}",
                "event_type": "incident.triggered",
                "resource_type": "incident",
                "occurred_at": _iso(now - timedelta(minutes=20)),
                "data": {
                    "id": f"Q{run.upper()}{i}",
                    "type": "incident",
                    "number": i,
                    "status": "triggered",
                    "urgency": "high",
                    "title": f"{service} error rate above 5%",
                    "created_at": _iso(now - timedelta(minutes=20)),
                    "html_url": f"https://acme.pagerduty.com/incidents/Q{i}",
                    "service": {"id": f"PSVC{i}", "summary": service},
                },
            }
        }
    )
    requests = [
        Request(
            f"deploy {i}",
            "/api/deploys",
            {**JSON, "authorization": f"Bearer {API_TOKEN}"},
            orjson.dumps(deploy),
        ),
        Request(
            f"failed build {i}",
            "/webhooks/buildkite",
            {
                **JSON,
                "x-buildkite-event": "build.finished",
                "x-buildkite-signature": buildkite_sign(WEBHOOK_TOKEN, int(time.time()), build),
            },
            build,
        ),
        Request(
            f"incident {i}",
            "/webhooks/pagerduty",
            {**JSON, "x-pagerduty-signature": pagerduty_sign(incident, PAGERDUTY_SECRET)},
            incident,
        ),
    ]
    for attempt, result in enumerate(["failed", "passed"], start=1):
        upload = {
            "format": "json",
            "run_env": {
                "ci": "buildkite",
                "key": f"build-{run}-{i}-{attempt}",
                "number": str(1000 + i),
                "job_id": f"job-{run}-{i}-{attempt}",
                "branch": "main",
                "commit_sha": commit,
                "url": f"https://buildkite.com/acme/{service}/builds/{1000 + i}",
            },
            "data": [
                _execution(f"{run}-{i}", f"test_flaky_{i}", result, attempt),
                _execution(f"{run}-{i}", "test_stable_a", "passed", attempt),
                _execution(f"{run}-{i}", "test_stable_b", "passed", attempt),
            ],
        }
        requests.append(
            Request(
                f"upload {i}.{attempt}",
                "/v1/uploads",
                {**JSON, "authorization": f'Token token="{SUITE_TOKEN}"'},
                orjson.dumps(upload),
            )
        )
    return requests


def _execution(story: str, name: str, result: str, attempt: int) -> dict[str, Any]:
    scope = f"tests/test_svc_{story.rsplit('-', 1)[1]}.py"
    digest = hashlib.md5(f"{story}{name}{attempt}".encode(), usedforsecurity=False)
    return {
        "id": str(uuid.UUID(hex=digest.hexdigest())),
        "scope": scope,
        "name": name,
        "location": f"{scope}::{name}",
        "file_name": scope,
        "result": result,
        "failure_reason": "AssertionError" if result == "failed" else None,
        "history": {"section": "top", "duration": 0.01},
    }
