"""The mixed load of ``bench/system.py``: what is sent, in which order, and which alert it
should end in. Pure: no sockets, no Kafka, the same requests for the same arguments.

The load is a repeating cycle of ten requests, one *story* per cycle::

    0 deploy of S (POST /api/deploys)                 ─┐
    1 passed build.finished of S (webhook)             │ three pieces that line up:
    2 test upload, every test passing                  │ one failure_deploy_incident
    3 failed build.finished of S on main (webhook)     │ alert for S, completed by
    4 test upload: test F fails (commit C)             │ the incident (6)
    5 passed build.finished of S (webhook)             │
    6 PagerDuty incident on S's PagerDuty service     ─┘
    7 test upload, every test passing
    8 test upload: test F passes (commit C)            ─▶ flaky_test alert for F
    9 passed build.finished of S (webhook)

so four Buildkite webhooks, four uploads, a deploy and an incident per cycle, and two
alerts. Story ``n`` runs on service ``S = svc-<n mod services>``; its event times sit
three hours after the previous story of the same service (the correlator's windows are
±60 and 120 minutes, so stories never line up with one another), starting a year ago, so
that every service's clock only moves forward. Test ``F`` is new in every story (a test
is flagged once); the passing uploads reuse a fixed set of tests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.common.topics import Topic
from services.demo_events import checkout_execution
from services.ingest.pagerduty import sign as pagerduty_sign
from services.receiver.signature import sign as buildkite_sign

__all__ = [
    "ALERTS_PER_CYCLE",
    "CYCLE",
    "Credentials",
    "MixedLoad",
    "Request",
    "alert_key",
    "catalog_yaml",
    "routes_yaml",
]

CYCLE = 10
ALERTS_PER_CYCLE = 2
STORY_SPACING = timedelta(hours=3)
STABLE_TESTS = 40  # passing tests shared by every upload


@dataclass(frozen=True)
class Credentials:
    webhook_token: str = "bench-webhook-token"  # noqa: S105 - throwaway benchmark secrets
    api_token: str = "bench-api-token"  # noqa: S105
    pagerduty_secret: str = "bench-pagerduty-secret"  # noqa: S105
    suite: str = "bench-suite"
    suite_token: str = "bench-suite-token"  # noqa: S105

    def environment(self) -> dict[str, str]:
        """The receiver's settings that accept these credentials."""
        return {
            "KITESTREAM_BUILDKITE_TOKENS": self.webhook_token,
            "KITESTREAM_API_TOKENS": self.api_token,
            "KITESTREAM_PAGERDUTY_SECRETS": self.pagerduty_secret,
            "KITESTREAM_TEST_SUITES": f"{self.suite}={self.suite_token}",
        }


@dataclass(frozen=True)
class Request:
    """One request of the load: the raw HTTP/1.1 bytes, and for the bare produce loop
    the topic, key and value the receiver would write (one message per request)."""

    index: int
    kind: str  # build | upload | deploy | incident
    raw: bytes
    topic: Topic
    key: bytes
    body: bytes
    completes: str | None = None  # the alert key (see alert_key) this request completes


def alert_key(alert: dict[str, Any]) -> str | None:
    """What ties an alert back to its story: the incident id or the flaky test's name."""
    kind = alert.get("kind")
    if kind == "failure_deploy_incident":
        incident_id = (alert.get("incident") or {}).get("incident_id")
        return f"incident:{incident_id}" if incident_id else None
    if kind == "flaky_test":
        name = (alert.get("test") or {}).get("name")
        return f"test:{name}" if name else None
    return None


def catalog_yaml(services: int) -> str:
    lines = ["services:"]
    for s in range(services):
        name = _service(s)
        lines += [
            f"  {name}:",
            f"    pipelines: [{name}]",
            f"    pagerduty_services: [{_pagerduty_id(s)}]",
        ]
    return "\n".join(lines) + "\n"


def routes_yaml(url: str, secret_env: str) -> str:
    return (
        "sinks:\n"
        f"  recorder: {{type: webhook, url: '{url}', secret_env: {secret_env}, "
        "allow_private: true}\n"
        "routes:\n"
        "  - to: [recorder]\n"
    )


def _service(s: int) -> str:
    return f"svc-{s:03d}"


def _pagerduty_id(s: int) -> str:
    return f"PBENCH{s:03d}"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class MixedLoad:
    """The requests of cycles ``first .. first + count - 1`` under run id ``run``
    (unique per benchmark run, so ids never repeat across runs on one broker)."""

    def __init__(
        self,
        run: str,
        *,
        services: int = 40,
        credentials: Credentials | None = None,
        start: datetime | None = None,
    ) -> None:
        self.run = run
        self.services = services
        self.credentials = credentials or Credentials()
        self.start = start or (datetime.now(UTC) - timedelta(days=365))

    def requests(self, first: int, count: int, signed_at: int) -> list[Request]:
        """``signed_at``: the Buildkite signature timestamp (valid for 300 s after)."""
        out: list[Request] = []
        for n in range(first, first + count):
            out += self.cycle(n, signed_at)
        return out

    def cycle(self, n: int, signed_at: int) -> list[Request]:
        s = n % self.services
        service = _service(s)
        at = self.start + STORY_SPACING * (n // self.services)
        story = f"{self.run}-{n}"
        commit = hashlib.sha1(story.encode(), usedforsecurity=False).hexdigest()
        flaky = f"test_flaky_{story.replace('-', '_')}"
        incident_id = f"Q{story.upper()}"
        base = n * CYCLE

        def build(i: int, suffix: str, state: str) -> Request:
            return self._build(
                i,
                service=service,
                build_id=f"{story}-{suffix}",
                commit=commit,
                state=state,
                at=at,
                signed_at=signed_at,
            )

        return [
            self._deploy(base, service, story, commit, at),
            build(base + 1, "ok1", "passed"),
            self._upload(base + 2, f"{story}-u1", commit, None, "passed"),
            build(base + 3, "fail", "failed"),
            self._upload(base + 4, f"{story}-u2", commit, flaky, "failed"),
            build(base + 5, "ok2", "passed"),
            self._incident(base + 6, s, story, incident_id, at),
            self._upload(base + 7, f"{story}-u3", commit, None, "passed"),
            self._upload(base + 8, f"{story}-u4", commit, flaky, "passed"),
            build(base + 9, "ok3", "passed"),
        ]

    # -- the four kinds --------------------------------------------------------------

    def _deploy(self, i: int, service: str, story: str, commit: str, at: datetime) -> Request:
        body = orjson.dumps(
            {
                "service": service,
                "deploy_id": f"deploy-{story}",
                "state": "succeeded",
                "commit": commit,
                "started_at": _iso(at - timedelta(minutes=22)),
                "finished_at": _iso(at - timedelta(minutes=20)),
                "url": f"https://buildkite.com/acme/{service}-deploy/builds/{i}",
                "source": "buildkite",
            }
        )
        auth = {"authorization": f"Bearer {self.credentials.api_token}"}
        return _request(
            i, "deploy", "/api/deploys", body, headers=auth, topic=Topic.DEPLOYS, key=service
        )

    def _build(
        self,
        i: int,
        *,
        service: str,
        build_id: str,
        commit: str,
        state: str,
        at: datetime,
        signed_at: int,
    ) -> Request:
        finished = at - timedelta(minutes=10 if state == "failed" else 15)
        body = orjson.dumps(
            {
                "event": "build.finished",
                "build": {
                    "id": build_id,
                    "number": i,
                    "state": state,
                    "branch": "main",
                    "commit": commit,
                    "message": "Round totals before tax",
                    "web_url": f"https://buildkite.com/acme/{service}/builds/{i}",
                    "started_at": _iso(finished - timedelta(minutes=4)),
                    "finished_at": _iso(finished),
                },
                "pipeline": {"slug": service, "default_branch": "main"},
            }
        )
        headers = {
            "x-buildkite-event": "build.finished",
            "x-buildkite-signature": buildkite_sign(
                self.credentials.webhook_token, signed_at, body
            ),
        }
        return _request(
            i,
            "build",
            "/webhooks/buildkite",
            body,
            headers=headers,
            topic=Topic.BUILDS,
            key=service,
        )

    def _incident(self, i: int, s: int, story: str, incident_id: str, at: datetime) -> Request:
        opened = _iso(at - timedelta(minutes=2))
        body = orjson.dumps(
            {
                "event": {
                    "id": f"evt-{story}",
                    "event_type": "incident.triggered",
                    "resource_type": "incident",
                    "occurred_at": opened,
                    "data": {
                        "id": incident_id,
                        "type": "incident",
                        "number": i,
                        "status": "triggered",
                        "urgency": "high",
                        "title": "Checkout error rate above 5%",
                        "created_at": opened,
                        "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                        "service": {"id": _pagerduty_id(s), "summary": _service(s)},
                    },
                }
            }
        )
        headers = {"x-pagerduty-signature": pagerduty_sign(body, self.credentials.pagerduty_secret)}
        request = _request(
            i,
            "incident",
            "/webhooks/pagerduty",
            body,
            headers=headers,
            topic=Topic.INCIDENTS,
            key=_pagerduty_id(s),
        )
        return replace(request, completes=f"incident:{incident_id}")

    def _upload(self, i: int, key: str, commit: str, flaky: str | None, result: str) -> Request:
        names = [f"test_stable_{(i + k) % STABLE_TESTS}" for k in range(4)]
        runs = [(name, "passed") for name in names] + [(flaky or "test_ok", result)]
        data = [_execution(key, name, outcome) for name, outcome in runs]
        body = orjson.dumps(
            {
                "format": "json",
                "run_env": {
                    "ci": "buildkite",
                    "key": key,
                    "number": str(i),
                    "job_id": f"job-{key}",
                    "branch": "main",
                    "commit_sha": commit,
                    "url": f"https://buildkite.com/acme/bench/builds/{i}",
                },
                "data": data,
            }
        )
        auth = {"authorization": f'Token token="{self.credentials.suite_token}"'}
        request = _request(
            i,
            "upload",
            "/v1/uploads",
            body,
            headers=auth,
            topic=Topic.TEST_RESULTS,
            key=self.credentials.suite,
        )
        if flaky and result == "passed":
            return replace(request, completes=f"test:{flaky}")
        return request


def _execution(upload: str, name: str, result: str) -> dict[str, Any]:
    """The demo's execution, with an id the same in every run of the benchmark."""
    digest = hashlib.md5(f"{upload}/{name}".encode(), usedforsecurity=False).hexdigest()
    return checkout_execution(name, result, digest)


def _request(
    i: int, kind: str, path: str, body: bytes, *, headers: dict[str, str], topic: Topic, key: str
) -> Request:
    head = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", "content-type: application/json"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"content-length: {len(body)}")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    return Request(i, kind, raw, topic, key.encode(), body)
