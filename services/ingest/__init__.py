"""Ingest: the pure layer under the receiver's HTTP API; request pieces in, contract
messages or a refusal out. No HTTP server and no Kafka here.

What each module holds::

    errors.py      the refusal tree: HttpError and its 400/401/408/413/415/422/503
    request.py     headers, media types, gzip within a cap, JSON within a depth
    auth.py        constant-time secrets, Authorization forms, HMAC, suite tokens
    testengine.py  POST /v1/uploads (Buildkite Test Engine), with form.py, junit.py,
                   results.py
    pagerduty.py   POST /webhooks/pagerduty (PagerDuty v3 webhooks)
    api.py         POST /api/deploys and /api/incidents, with opsgenie.py, fields.py

The receiver's endpoints (``services/receiver/ingest_endpoints.py``) call these steps,
and so do the tests: credentials first (401 before the body is read), then the body as
the receiver read it under its limits (Content-Type checked, gzip undone), then a
parser::

    POST /v1/uploads        suite = SuiteTokens.from_mapping(settings.test_suites)
                                        .authenticate(headers)
                            upload = read_upload(suite, headers, body, received_at=now)
                            -> upload.results on tests.results (key: upload.suite),
                               202 upload.response_body()
    POST /webhooks/pagerduty
                            offered = offered_signatures(headers)
                            event = read_webhook(offered, body,
                                                 signing_keys(settings.pagerduty_secrets),
                                                 received_at=now)
                            -> event on incidents (key: event.service) unless None; 202
    POST /api/deploys       check_bearer(headers, secret_set(settings.api_tokens))
                            event = parse_deploy(json_document, received_at=now)
                            -> deploys (key: event.service); 202
    POST /api/incidents     check_bearer(headers, secret_set(settings.api_tokens))
                            event = parse_incident(json_document, received_at=now)
                            -> incidents (key: event.service) unless None; 202

Refusals are this package's exceptions (:mod:`services.ingest.errors`), which the
receiver raises too, so one tree maps every refusal to its answer. Imports point one
way: the receiver imports this package, never the reverse
(``tests/unit/ingest/test_layering.py``).
"""

from __future__ import annotations

from services.ingest.api import (
    API_MEDIA_TYPES,
    DeployRequest,
    IncidentRequest,
    parse_deploy,
    parse_incident,
)
from services.ingest.auth import SuiteTokens, check_bearer, secret_set
from services.ingest.junit import parse_junit
from services.ingest.pagerduty import (
    match_signatures,
    offered_signatures,
    pagerduty_incident,
    read_webhook,
    signing_keys,
)
from services.ingest.results import Limits
from services.ingest.testengine import UPLOAD_MEDIA_TYPES, Upload, read_upload

__all__ = [
    "API_MEDIA_TYPES",
    "UPLOAD_MEDIA_TYPES",
    "DeployRequest",
    "IncidentRequest",
    "Limits",
    "SuiteTokens",
    "Upload",
    "check_bearer",
    "match_signatures",
    "offered_signatures",
    "pagerduty_incident",
    "parse_deploy",
    "parse_incident",
    "parse_junit",
    "read_upload",
    "read_webhook",
    "secret_set",
    "signing_keys",
]
