"""The OpenAPI side of the ingest endpoints: operations, schemas, security schemes.

Request bodies come from the models that read them where there is one
(:class:`~services.ingest.api.DeployRequest`, :class:`~services.ingest.api.IncidentRequest`,
:class:`~services.ingest.testengine.CollectorTest`), so the document cannot drift from
what is accepted; the envelopes around them (an upload, a PagerDuty webhook) are
written out here. ``ingest_endpoints.py`` attaches these to its endpoints.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from services.ingest.api import DeployRequest, IncidentRequest
from services.ingest.testengine import CollectorTest
from services.receiver.openapi import error, json_body

__all__ = [
    "API_SECURITY",
    "DEPLOYS",
    "INCIDENTS",
    "PAGERDUTY",
    "PAGERDUTY_SECURITY",
    "SCHEMAS",
    "UPLOADS",
    "UPLOAD_SECURITY",
]

_RUN_ENV_KEYS = ("CI", "key", "number", "job_id", "branch", "commit_sha", "message", "url")


def _model_schemas() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in (DeployRequest, IncidentRequest, CollectorTest)],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    return schemas


_RUN_ENV = {
    "type": "object",
    "description": (
        "Where the run happened. Keys are read in any case (the JavaScript collector "
        "sends `ci`); numbers are kept as text."
    ),
    "properties": {key: {"type": ["string", "number", "null"]} for key in _RUN_ENV_KEYS},
}

_UPLOAD_JSON = {
    "type": "object",
    "description": "What the Python, JavaScript and Ruby collectors post.",
    "required": ["data"],
    "properties": {
        "format": {"enum": ["json"]},
        "run_env": {"$ref": "#/components/schemas/UploadRunEnv"},
        "data": {
            "type": "array",
            "description": (
                "One entry per test execution; an entry without a name is skipped and "
                "described in the answer's `errors`."
            ),
            "items": {"$ref": "#/components/schemas/CollectorTest"},
        },
    },
}

_UPLOAD_FORM = {
    "type": "object",
    "description": "What `bktec upload`, curl -F and the test-collector plugin post.",
    "required": ["data"],
    "properties": {
        "format": {"enum": ["json", "junit"], "description": "Default: guessed from `data`."},
        "data": {
            "type": "string",
            "format": "binary",
            "description": "JUnit XML or Test Engine JSON; a gzipped file is inflated.",
        },
        **{f"run_env[{key}]": {"type": "string"} for key in _RUN_ENV_KEYS},
    },
}

_UPLOAD_ACCEPTED = {
    "type": "object",
    "required": ["id", "run_id", "queued", "skipped", "errors", "run_url"],
    "properties": {
        "id": {"type": "string", "description": "The upload's id; the same body, the same id."},
        "run_id": {"type": "string", "description": "The same for every upload of one run."},
        "queued": {"type": "integer", "description": "Executions put on tests.results."},
        "skipped": {"type": "integer", "description": "Entries left out (no name)."},
        "errors": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
        "run_url": {"type": ["string", "null"]},
    },
}

_PAGERDUTY_WEBHOOK = {
    "type": "object",
    "description": (
        "A PagerDuty v3 webhook. Incident events (`incident.triggered`, `.acknowledged`, "
        "`.unacknowledged`, `.resolved`, `.reopened`, `.priority_updated`, `.escalated`, "
        "`.reassigned`, `.delegated`, …) become incidents; other events are ignored."
    ),
    "required": ["event"],
    "properties": {
        "event": {
            "type": "object",
            "required": ["event_type"],
            "properties": {
                "id": {"type": "string"},
                "event_type": {"type": "string", "examples": ["incident.triggered"]},
                "resource_type": {"type": "string"},
                "occurred_at": {"type": "string", "format": "date-time"},
                "data": {
                    "type": "object",
                    "description": "The incident (for incident events).",
                    "properties": {
                        "id": {"type": "string"},
                        "type": {"type": "string"},
                        "number": {"type": "integer"},
                        "title": {"type": "string"},
                        "status": {"enum": ["triggered", "acknowledged", "resolved"]},
                        "urgency": {"type": "string"},
                        "priority": {"type": ["object", "null"]},
                        "service": {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "summary": {"type": "string"}},
                        },
                        "html_url": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        }
    },
}

_OPSGENIE_WEBHOOK = {
    "type": "object",
    "description": (
        "An Opsgenie Webhook integration's payload. Create/UnAcknowledge open the incident, "
        "Acknowledge acknowledges it, Close/Delete resolve it; other actions are ignored. "
        "The service comes from details.service, a service:<name> tag, or entity."
    ),
    "required": ["action", "alert"],
    "properties": {
        "action": {
            "type": "string",
            "examples": ["Create", "Acknowledge", "UnAcknowledge", "Close", "Delete", "AddNote"],
        },
        "alert": {
            "type": "object",
            "required": ["alertId"],
            "properties": {
                "alertId": {"type": "string"},
                "tinyId": {"type": "string"},
                "message": {"type": "string"},
                "entity": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "details": {"type": "object"},
                "priority": {"type": "string"},
                "createdAt": {"type": "integer", "description": "Unix milliseconds."},
            },
        },
    },
}

_EVENT_ACCEPTED = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {
            "enum": ["accepted", "ignored"],
            "description": "`ignored`: understood, nothing to record (nothing was produced).",
        },
        "event_id": {"type": "string", "description": "Same payload, same id."},
        "topic": {"type": "string", "description": "Unprefixed topic name."},
        "delivery": {
            "enum": ["kafka", "spool"],
            "description": "Acked by Kafka, or fsync'd to the spool while Kafka is away.",
        },
    },
}

SCHEMAS: dict[str, Any] = {
    **_model_schemas(),
    "UploadRunEnv": _RUN_ENV,
    "UploadJson": _UPLOAD_JSON,
    "UploadForm": _UPLOAD_FORM,
    "UploadAccepted": _UPLOAD_ACCEPTED,
    "PagerDutyWebhook": _PAGERDUTY_WEBHOOK,
    "OpsgenieWebhook": _OPSGENIE_WEBHOOK,
    "EventAccepted": _EVENT_ACCEPTED,
}

UPLOAD_SECURITY = {
    "testSuiteToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": (
            'Token token="<suite token>" (quoted or not); KITESTREAM_TEST_SUITES maps each '
            "token to its suite."
        ),
    }
}
PAGERDUTY_SECURITY = {
    "pagerdutySignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-PagerDuty-Signature",
        "description": (
            "v1=HEX[,v1=HEX]: HMAC-SHA256 of the raw body keyed with a signing secret in "
            "KITESTREAM_PAGERDUTY_SECRETS; any match of any secret is accepted."
        ),
    }
}
API_SECURITY = {
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token in KITESTREAM_API_TOKENS.",
    }
}


def _refusals(media: str, unprocessable: str) -> dict[str, Any]:
    return {
        "400": error("Malformed body: not JSON/XML/multipart, bad gzip, nested too deeply."),
        "401": error("Missing or wrong credentials."),
        "408": error("The body did not arrive in time."),
        "413": error("The body (after gunzip), the number of tests or a message is too large."),
        "415": error(f"Not {media}."),
        "422": error(unprocessable),
        "503": error("Neither Kafka nor the spool can take the events."),
    }


def _json_request(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


UPLOADS: dict[str, Any] = {
    "operationId": "uploadTestResults",
    "summary": "Upload test results (the Buildkite Test Engine upload API)",
    "description": (
        "What Buildkite's test collectors, bktec and the test-collector plugin send. The "
        "token names the suite. Each test execution becomes one message on tests.results, "
        "keyed by the suite slug; the body may be gzipped (Content-Encoding: gzip). 202 "
        "only once every message is acked by Kafka or fsync'd to the spool."
    ),
    "tags": ["tests"],
    "security": [{"testSuiteToken": []}],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/UploadJson"}},
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/UploadForm"}},
        },
    },
    "responses": {
        "202": json_body("Durably accepted.", "UploadAccepted"),
        **_refusals(
            "application/json or multipart/form-data",
            "Well-formed, but no data array or file, an unknown format, run_env not an object.",
        ),
    },
}

PAGERDUTY: dict[str, Any] = {
    "operationId": "receivePagerDutyWebhook",
    "summary": "Receive a PagerDuty v3 webhook",
    "description": (
        "Verified with X-PagerDuty-Signature. Incident events go to incidents, keyed by the "
        "PagerDuty service id; other events are answered 202 `ignored` and produce nothing."
    ),
    "tags": ["incidents"],
    "security": [{"pagerdutySignature": []}],
    "requestBody": _json_request("PagerDutyWebhook"),
    "responses": {
        "202": json_body("Durably accepted, or ignored.", "EventAccepted"),
        **_refusals(
            "application/json", "Not a PagerDuty v3 webhook, or an incident without service."
        ),
    },
}

DEPLOYS: dict[str, Any] = {
    "operationId": "recordDeploy",
    "summary": "Record a deploy (started, succeeded, failed, cancelled)",
    "description": (
        "For deploy tools: a Buildkite step with curl, Argo CD notifications, a GitHub "
        "Actions job. Goes to deploys, keyed by service."
    ),
    "tags": ["deploys"],
    "security": [{"apiToken": []}],
    "requestBody": _json_request("DeployRequest"),
    "responses": {
        "202": json_body("Durably accepted.", "EventAccepted"),
        **_refusals("application/json", "No service, no or an unknown state, a bad time."),
    },
}

INCIDENTS: dict[str, Any] = {
    "operationId": "recordIncident",
    "summary": "Record an incident from another incident tool",
    "description": (
        "For incident tools other than PagerDuty (incident.io, Statuspage, …); an Opsgenie "
        "Webhook integration's own payload is read as it is. Goes to incidents, keyed by "
        "service. Opsgenie actions that change no state are answered 202 `ignored`."
    ),
    "tags": ["incidents"],
    "security": [{"apiToken": []}],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/IncidentRequest"},
                        {"$ref": "#/components/schemas/OpsgenieWebhook"},
                    ]
                }
            }
        },
    },
    "responses": {
        "202": json_body("Durably accepted, or ignored.", "EventAccepted"),
        **_refusals("application/json", "No id, service or title, an unknown status, a bad time."),
    },
}
