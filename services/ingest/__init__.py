"""Ingest: raw request pieces (headers, body bytes) in, contract messages out.

Pure functions the receiver's routes call; no HTTP server, no Kafka here. Each
authenticates first, then reads the body, and either returns messages or raises
one :class:`~services.ingest.errors.IngestError` that names the HTTP answer.

====================  ==========================================  ==============
route                 call                                        topic, key
====================  ==========================================  ==============
POST /v1/uploads      ``parse_upload(headers, body, suites=…)``   tests.results, suite
POST /webhooks/       ``handle_pagerduty(headers, body,           incidents,
pagerduty               secrets=…)``                              service id
POST /api/deploys     ``handle_deploy(headers, body, tokens=…)``  deploys, service
POST /api/incidents   ``handle_incident(headers, body,            incidents, service
                        tokens=…)``
====================  ==========================================  ==============
"""

from __future__ import annotations

from services.ingest.api import DeployRequest, IncidentRequest, handle_deploy, handle_incident
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
from services.ingest.testengine import Upload, parse_upload

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
    "parse_junit",
    "parse_pagerduty",
    "parse_upload",
    "verify_signature",
]
