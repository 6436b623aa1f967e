"""``kitestream demo-events``: post a short story to a running demo and watch the alerts.

Sent through the receiver's public endpoints, with the demo credentials (``make run``
prints them), so every piece of the pipeline takes part:

1. a deploy of ``payments-api`` (``POST /api/deploys``), 20 minutes ago;
2. a failed ``build.finished`` of ``payments-api`` on ``main`` (a signed Buildkite
   webhook), 10 minutes ago;
3. a PagerDuty incident on ``PDEMO01`` (``payments-api`` in the demo catalog), 2
   minutes ago: the correlator lines the three up into one ``failure_deploy_incident``;
4. test uploads in which ``test_checkout_total`` fails and passes on the same commit:
   the flakiness processor flags it (``flaky_test``).

The dispatcher's log sink prints both alerts; ``kitestream alerts tail`` shows them too.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["add_arguments", "checkout_execution", "run", "story"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the receiver (http://127.0.0.1:8080)"
    )
    parser.add_argument("--webhook-token", default="demo-webhook-token")
    parser.add_argument("--api-token", default="demo-api-token")
    parser.add_argument("--pagerduty-secret", default="demo-pagerduty-secret")
    parser.add_argument("--suite-token", default="demo-suite-token")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def story(now: datetime, args: argparse.Namespace) -> list[tuple[str, str, dict[str, str], bytes]]:
    """The requests, in order: (label, path, headers, body)."""
    import orjson

    from services.ingest.pagerduty import sign as pagerduty_sign
    from services.receiver.signature import sign as buildkite_sign

    run = uuid.uuid4().hex[:8]  # fresh ids each time, so a second run alerts again
    commit = hashlib.sha1(run.encode(), usedforsecurity=False).hexdigest()
    deploy = {
        "service": "payments-api",
        "deploy_id": f"deploy-{run}",
        "state": "succeeded",
        "commit": commit,
        "started_at": _iso(now - timedelta(minutes=22)),
        "finished_at": _iso(now - timedelta(minutes=20)),
        "url": "https://buildkite.com/acme/payments-api-deploy/builds/812",
        "source": "buildkite",
    }
    build = {
        "event": "build.finished",
        "build": {
            "id": f"build-{run}",
            "number": 4242,
            "state": "failed",
            "branch": "main",
            "commit": commit,
            "message": "Round totals before tax",
            "web_url": "https://buildkite.com/acme/payments-api/builds/4242",
            "started_at": _iso(now - timedelta(minutes=14)),
            "finished_at": _iso(now - timedelta(minutes=10)),
        },
        "pipeline": {"slug": "payments-api", "default_branch": "main"},
    }
    incident = {
        "event": {
            "id": f"evt-{run}",
            "event_type": "incident.triggered",
            "resource_type": "incident",
            "occurred_at": _iso(now - timedelta(minutes=2)),
            "data": {
                "id": f"Q{run.upper()}",
                "type": "incident",
                "number": 77,
                "status": "triggered",
                "urgency": "high",
                "title": "Checkout error rate above 5%",
                "created_at": _iso(now - timedelta(minutes=2)),
                "html_url": f"https://acme.pagerduty.com/incidents/Q{run.upper()}",
                "service": {"id": "PDEMO01", "summary": "payments-api (production)"},
            },
        }
    }
    build_body = orjson.dumps(build)
    incident_body = orjson.dumps(incident)
    json_type = {"content-type": "application/json"}
    requests = [
        (
            "deploy of payments-api",
            "/api/deploys",
            {**json_type, "authorization": f"Bearer {args.api_token}"},
            orjson.dumps(deploy),
        ),
        (
            "failed build of payments-api on main",
            "/webhooks/buildkite",
            {
                **json_type,
                "x-buildkite-event": "build.finished",
                "x-buildkite-signature": buildkite_sign(
                    args.webhook_token, int(time.time()), build_body
                ),
            },
            build_body,
        ),
        (
            "PagerDuty incident on payments-api",
            "/webhooks/pagerduty",
            {
                **json_type,
                "x-pagerduty-signature": pagerduty_sign(incident_body, args.pagerduty_secret),
            },
            incident_body,
        ),
    ]
    for attempt, result in enumerate(["failed", "passed"], start=1):
        upload = {
            "format": "json",
            "run_env": {
                "ci": "buildkite",
                "key": f"build-{run}-{attempt}",
                "number": str(4242 + attempt),
                "job_id": f"job-{run}-{attempt}",
                "branch": "main",
                "commit_sha": commit,
                "url": f"https://buildkite.com/acme/payments-api/builds/{4242 + attempt}",
            },
            "data": [
                checkout_execution("test_checkout_total", result),
                checkout_execution("test_refund", "passed"),
            ],
        }
        requests.append(
            (
                f"test upload {attempt}: test_checkout_total {result}",
                "/v1/uploads",
                {**json_type, "authorization": f'Token token="{args.suite_token}"'},
                orjson.dumps(upload),
            )
        )
    return requests


def checkout_execution(name: str, result: str, execution_id: str | None = None) -> dict[str, Any]:
    """One Test Engine execution of the demo's checkout tests (a fresh id unless given)."""
    return {
        "id": execution_id or str(uuid.uuid4()),
        "scope": "tests/test_checkout.py",
        "name": name,
        "location": f"tests/test_checkout.py::{name}",
        "file_name": "tests/test_checkout.py",
        "result": result,
        "failure_reason": "AssertionError: 10.01 != 10.00" if result == "failed" else None,
        "history": {"section": "top", "duration": 0.012},
    }


def run(args: argparse.Namespace) -> int:
    import httpx

    failures = 0
    with httpx.Client(base_url=args.url, timeout=10.0) as client:
        for label, path, headers, body in story(datetime.now(UTC), args):
            try:
                response = client.post(path, content=body, headers=headers)
            except httpx.HTTPError as exc:
                sys.stderr.write(f"{label}: cannot reach {args.url} ({exc}); is `make run` up?\n")
                return 1
            ok = response.status_code in {200, 202}
            failures += not ok
            sys.stdout.write(f"{'ok ' if ok else 'ERR'} {response.status_code} {label}\n")
            if not ok:
                sys.stdout.write(f"    {response.text}\n")
    if failures == 0:
        sys.stdout.write(
            "\nWithin seconds the dispatcher's log shows a critical failure_deploy_incident "
            "alert for payments-api and a flaky_test alert for test_checkout_total.\n"
            "Watch them with: kitestream alerts tail\n"
            "Its delivery metrics (DORA four keys): kitestream delivery --service payments-api "
            "--api http://127.0.0.1:8090, or http://127.0.0.1:8090/services/payments-api\n"
        )
    return 1 if failures else 0
