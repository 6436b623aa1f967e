"""Logs of the ingest endpoints: one line per refusal with its reason, never a suite
token, API token, signing secret or signature."""

from __future__ import annotations

import logging

import pytest

from services.common.logs import JsonFormatter
from services.ingest.pagerduty import sign
from tests.unit.ingest.payloads import fixture
from tests.unit.receiver.clients import (
    API_TOKENS,
    PAGERDUTY_SECRETS,
    SUITES,
    IngestReceiver,
)


async def test_ingest_credentials_never_appear_in_logs(
    ingest: IngestReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    upload = fixture("testengine/python_collector.json")
    webhook = fixture("pagerduty/incident_triggered.json")
    deploy = fixture("api/deploy_buildkite_curl.json")
    near_misses = [SUITES["payments-pytest"] + "x", API_TOKENS[0][:-1], PAGERDUTY_SECRETS[0] + "0"]
    with caplog.at_level(logging.DEBUG):
        for token in (SUITES["payments-pytest"], near_misses[0]):
            await ingest.upload(upload, token=token)
            await ingest.upload(upload[:-3], token=token, quoted=False)
        for secrets in (PAGERDUTY_SECRETS, [near_misses[2]]):
            await ingest.pagerduty(webhook, secrets=secrets)
            await ingest.pagerduty(b"{", secrets=secrets)
        for token in (API_TOKENS[0], near_misses[1]):
            await ingest.api("/api/deploys", raw=deploy, token=token)
            await ingest.api("/api/incidents", raw=b"[]", token=token)

    secrets = [*SUITES.values(), *API_TOKENS, *PAGERDUTY_SECRETS, *near_misses]
    secrets += [sign(body, s)[3:] for body in (webhook, b"{") for s in PAGERDUTY_SECRETS]
    formatter = JsonFormatter()
    text_formatter = logging.Formatter("%(message)s %(args)s")
    rendered = [formatter.format(r) + text_formatter.format(r) for r in caplog.records]
    refused = [r for r in caplog.records if r.getMessage().startswith("rejected ")]
    assert len(refused) == 9, [r.getMessage() for r in refused]  # 3 per endpoint family
    for line in rendered:
        for secret in secrets:
            assert secret not in line, f"a secret leaked into the log: {line}"
    metrics = (await ingest.receiver.client.get("/metrics")).text
    assert all(secret not in metrics for secret in secrets)
