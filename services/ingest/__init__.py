"""Ingest: raw request pieces (headers, body bytes) in, contract messages out.

Pure functions for the receiver's ingest routes (``services/receiver/uploads.py``,
``pagerduty_webhook.py``, ``operations_api.py``); no HTTP server and no Kafka here.
Each route authenticates first (401 before the body is read), reads the body with the
receiver's limits, and either gets messages or a refusal. Refusals are this package's
exceptions (:mod:`services.ingest.errors`: ``Unauthorized``, ``MalformedBody``,
``PayloadTooLarge``, ``UnsupportedMedia``, ``InvalidPayload``, all ``HttpError`` with
``status``, ``code`` and ``to_body()``), which the receiver raises too, so one tree maps
every refusal to its answer. Imports point one way: the receiver imports this package,
never the reverse (``tests/unit/ingest/test_layering.py``)::

    POST /v1/uploads        suite = SuiteTokens.from_mapping(settings.test_suites)
                                        .authenticate(headers)
                            upload = read_upload(suite, headers, body, received_at=now,
                                                 decoded=True)   # read_body inflated it
                            -> upload.results on tests.results (key: upload.suite),
                               202 upload.response_body()
    POST /webhooks/pagerduty
                            offered = offered_signatures(headers)  # 401 before the body
                            match_signatures(offered, body,
                                             signing_keys(settings.pagerduty_secrets))
                            event = pagerduty_incident(json_document, received_at=now)
                            -> event on incidents (key: event.service) unless None; 202
    POST /api/deploys       check_bearer(headers, settings.api_tokens)
                            event = parse_deploy(json_document, received_at=now)
                            -> deploys (key: event.service); 202
    POST /api/incidents     check_bearer(headers, settings.api_tokens)
                            event = parse_incident(json_document, received_at=now)
                            -> incidents (key: event.service) unless None; 202

``parse_upload``, ``handle_pagerduty``, ``handle_deploy`` and ``handle_incident`` do
both steps in one call for a body as received (gzip undone here, JSON parsed here).
"""

from __future__ import annotations

from services.ingest.api import (
    API_MEDIA_TYPES,
    DeployRequest,
    IncidentRequest,
    handle_deploy,
    handle_incident,
    parse_deploy,
    parse_incident,
)
from services.ingest.auth import SuiteTokens, check_bearer
from services.ingest.junit import parse_junit
from services.ingest.pagerduty import (
    handle_pagerduty,
    match_signatures,
    offered_signatures,
    pagerduty_incident,
    parse_pagerduty,
    signing_keys,
    verify_signature,
)
from services.ingest.results import Limits
from services.ingest.testengine import UPLOAD_MEDIA_TYPES, Upload, parse_upload, read_upload

__all__ = [
    "API_MEDIA_TYPES",
    "UPLOAD_MEDIA_TYPES",
    "DeployRequest",
    "IncidentRequest",
    "Limits",
    "SuiteTokens",
    "Upload",
    "check_bearer",
    "handle_deploy",
    "handle_incident",
    "handle_pagerduty",
    "match_signatures",
    "offered_signatures",
    "pagerduty_incident",
    "parse_deploy",
    "parse_incident",
    "parse_junit",
    "parse_pagerduty",
    "parse_upload",
    "read_upload",
    "signing_keys",
    "verify_signature",
]
