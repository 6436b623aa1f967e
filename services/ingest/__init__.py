"""Ingest: raw request pieces (headers, body bytes) in, contract messages out.

Pure functions for the receiver's routes; no HTTP server and no Kafka here. Each
route authenticates first (401 before the body is read), then reads the body, and
either gets messages or catches one :class:`~services.ingest.errors.IngestError`
carrying the HTTP status, error code and detail::

    POST /v1/uploads        suite = SuiteTokens.from_mapping(settings.test_suites)
                                        .authenticate(headers)
                            upload = read_upload(suite, headers, body, received_at=now)
                            -> upload.results on tests.results (key: upload.suite),
                               202 upload.response_body()
    POST /webhooks/pagerduty
                            verify_signature(headers, body, settings.pagerduty_secrets)
                            event = parse_pagerduty(body, received_at=now)
                            -> event on incidents (key: event.service) unless None; 202
    POST /api/deploys       check_bearer(headers, settings.api_tokens)
                            event = parse_deploy(json_document, received_at=now)
                            -> deploys (key: event.service); 202
    POST /api/incidents     check_bearer(headers, settings.api_tokens)
                            event = parse_incident(json_document, received_at=now)
                            -> incidents (key: event.service) unless None; 202

``parse_upload``, ``handle_pagerduty``, ``handle_deploy`` and ``handle_incident`` do
both steps in one call for a body as received.
"""

from __future__ import annotations

from services.ingest.api import (
    DeployRequest,
    IncidentRequest,
    handle_deploy,
    handle_incident,
    parse_deploy,
    parse_incident,
)
from services.ingest.auth import SuiteTokens, check_bearer
from services.ingest.errors import (
    IngestError,
    MalformedBody,
    SchemaViolation,
    TooLarge,
    Unauthorized,
    UnsupportedMedia,
)
from services.ingest.junit import parse_junit
from services.ingest.pagerduty import handle_pagerduty, parse_pagerduty, verify_signature
from services.ingest.results import Limits
from services.ingest.testengine import Upload, parse_upload, read_upload

__all__ = [
    "DeployRequest",
    "IncidentRequest",
    "IngestError",
    "Limits",
    "MalformedBody",
    "SchemaViolation",
    "SuiteTokens",
    "TooLarge",
    "Unauthorized",
    "UnsupportedMedia",
    "Upload",
    "check_bearer",
    "handle_deploy",
    "handle_incident",
    "handle_pagerduty",
    "parse_deploy",
    "parse_incident",
    "parse_junit",
    "parse_pagerduty",
    "parse_upload",
    "read_upload",
    "verify_signature",
]
