"""The Buildkite build sink: start a build (a rollback or a diagnostic pipeline).

``POST {api_url}/v2/organizations/{organization}/pipelines/{pipeline}/builds`` with a
Bearer token (scope ``write_builds``); the alert rides along twice: as environment
variables for the build's steps (``KITESTREAM_ALERT`` holds the whole alert as JSON) and
as build meta-data (``kitestream-alert-id`` and friends), which Buildkite can filter on.

The REST API has no idempotency key, so before creating a build the sink asks for builds
already carrying ``meta_data[kitestream-alert-id]`` (scope ``read_builds``) and creates
none when there is one: a retry after a lost answer, or a resend after a crash, does not
start a second build. Without ``read_builds`` (401/403 on the lookup) it creates the build
anyway, as a plain retry would.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from pydantic import SecretStr

from schemas.alerts import Alert
from services.dispatcher.errors import DeliveryFailed
from services.dispatcher.outbound import SinkClient
from services.dispatcher.sinks.base import Envelope, Receipt
from services.dispatcher.sinks.request import raise_for_answer, request

__all__ = ["ALERT_ID_META", "BuildkiteBuildSink", "build_request"]

log = logging.getLogger(__name__)

ALERT_ID_META = "kitestream-alert-id"


def build_request(alert: Alert, *, branch: str, commit: str) -> dict[str, Any]:
    """The create-build body for ``alert``."""
    alert_json = alert.to_json().decode()
    env = {
        "KITESTREAM_ALERT_ID": alert.alert_id,
        "KITESTREAM_ALERT_KIND": alert.kind,
        "KITESTREAM_ALERT_SEVERITY": alert.severity,
        "KITESTREAM_ALERT_SUMMARY": alert.summary,
        "KITESTREAM_ALERT": alert_json,
    }
    meta_data = {
        ALERT_ID_META: alert.alert_id,
        "kitestream-alert-kind": alert.kind,
        "kitestream-alert-severity": alert.severity,
        "kitestream-alert": alert_json,
    }
    if alert.service:
        env["KITESTREAM_ALERT_SERVICE"] = alert.service
        meta_data["kitestream-alert-service"] = alert.service
    return {
        "commit": commit,
        "branch": branch,
        "message": f"kitestream {alert.kind}: {alert.summary}"[:1000],
        "env": env,
        "meta_data": meta_data,
    }


class BuildkiteBuildSink:
    max_batch = 1
    min_interval_s = 0.0

    def __init__(
        self,
        name: str,
        *,
        organization: str,
        pipeline: str,
        token: SecretStr,
        api_url: str,
        branch: str,
        commit: str,
        client: SinkClient,
    ) -> None:
        self.name = name
        self._builds_url = (
            f"{api_url.rstrip('/')}/v2/organizations/{quote(organization, safe='')}"
            f"/pipelines/{quote(pipeline, safe='')}/builds"
        )
        self._token = token
        self._branch = branch
        self._commit = commit
        self._client = client

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Content-Type": "application/json",
        }

    async def _existing_build(self, alert_id: str) -> tuple[int | None, int]:
        """The number of a build already started for ``alert_id``, if any, and the
        lookup's HTTP status."""
        response = await request(
            self._client,
            "GET",
            self._builds_url,
            headers=self._headers(),
            params={f"meta_data[{ALERT_ID_META}]": alert_id, "per_page": "1"},
        )
        if response.status_code in (401, 403):
            log.warning(
                "sink %s: cannot list builds (HTTP %d; the token lacks read_builds?); "
                "creating the build without checking for an earlier one",
                self.name,
                response.status_code,
            )
            return None, response.status_code
        raise_for_answer(response)
        builds = _json(response)
        if not isinstance(builds, list):
            raise DeliveryFailed(
                f"listing builds answered HTTP {response.status_code} without a JSON list",
                retryable=True,
                status=response.status_code,
            )
        if builds and isinstance(builds[0], dict):
            return int(builds[0].get("number", 0)), response.status_code
        return None, response.status_code

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        [delivery] = batch
        alert = delivery.alert
        existing, status = await self._existing_build(alert.alert_id)
        if existing is not None:
            return Receipt(f"build #{existing} was already started for this alert", status=status)
        body = build_request(alert, branch=self._branch, commit=self._commit)
        response = await request(
            self._client,
            "POST",
            self._builds_url,
            content=orjson.dumps(body),
            headers=self._headers(),
        )
        raise_for_answer(response)
        build = _json(response)
        number = build.get("number") if isinstance(build, dict) else None
        return Receipt(f"started build #{number}", status=response.status_code)

    async def aclose(self) -> None:
        await self._client.aclose()


def _json(response: httpx.Response) -> Any:
    """The answer's JSON body, or ``None`` when it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
