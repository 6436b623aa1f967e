"""The query API's OpenAPI document, built from :data:`~services.api.routes.ROUTES`.

Item schemas come from the store's tables (:mod:`services.store.tables`), column by
column, because items are those rows; alerts are the contract's alert JSON
(:class:`schemas.alerts.Alert`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from schemas.alerts import Alert
from services.api.changes import ChangeBody
from services.api.routes import Route
from services.catalog.loader import SERVICE_LIST_KEYS
from services.store import tables

__all__ = ["OPENAPI_PATH", "document"]

OPENAPI_PATH = "/openapi.json"

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A stable code: bad_request, unauthorized, not_found, invalid_query.",
        },
        "detail": {"type": "string", "description": "What was wrong, for a person."},
    },
}
_ERRORS = {
    "400": "A cursor this list did not hand out.",
    "401": "No or a wrong bearer token (when KITESTREAM_READ_TOKENS is set).",
    "404": "No such service, pipeline, test or alert.",
    "422": "An unknown query parameter or a bad value.",
    "503": "The store's database cannot be read.",
}


def _type(column: sa.Column[Any]) -> dict[str, Any]:
    kind = column.type
    if isinstance(kind, tables.UtcTimestamp):
        schema: dict[str, Any] = {"type": "string", "format": "date-time"}
    elif isinstance(kind, sa.Date):
        schema = {"type": "string", "format": "date"}
    elif isinstance(kind, sa.Boolean):
        schema = {"type": "boolean"}
    elif isinstance(kind, sa.Integer):
        schema = {"type": "integer"}
    elif isinstance(kind, sa.Float):
        schema = {"type": "number"}
    elif isinstance(kind, sa.String | sa.Text):
        schema = {"type": "string"}
    else:  # JSON columns: lists or objects as sent
        schema = {}
    if column.nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def _object(columns: Iterable[sa.Column[Any]], **extra: Any) -> dict[str, Any]:
    chosen = list(columns)
    return {
        "type": "object",
        "required": [str(c.name) for c in chosen] + list(extra),
        "properties": {**{str(c.name): _type(c) for c in chosen}, **extra},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _delivery() -> dict[str, Any]:
    """The delivery answers' schemas (:mod:`services.api.delivery`)."""
    tier = {"type": ["string", "null"], "enum": ["elite", "high", "medium", "low", None]}
    number = {"type": ["number", "null"]}
    count = {"type": "integer"}

    def obj(**props: Any) -> dict[str, Any]:
        return {"type": "object", "required": list(props), "properties": props}

    link = obj(
        alert_id={"type": "string"},
        incident_id={"type": "string"},
        summary={"type": "string"},
        reasons={"type": "array", "items": {"type": "string"}},
        links={"type": "object", "additionalProperties": {"type": "string"}},
        rank={"type": ["integer", "null"]},
        candidates={"type": ["integer", "null"]},
        console={"type": "string", "description": "The alert's console page."},
    )
    failed = obj(
        deploy_id={"type": "string", "description": "deploy:<id>, build:<id> or job:<id>"},
        service={"type": "string"},
        finished_at={"type": "string", "format": "date-time"},
        commit={"type": ["string", "null"]},
        url={"type": ["string", "null"]},
        source={"type": "string"},
        failed_by={"type": "string", "enum": ["alert", "latest_deploy_before_incident"]},
        incident_ids={"type": "array", "items": {"type": "string"}},
        alerts={"type": "array", "items": link},
    )
    cfr = obj(rate=number, failed=count, deploys=count, tier=tier)
    keys = obj(
        deployment_frequency=obj(
            deploys=count,
            deploy_days=count,
            per_week={"type": "number"},
            median_deploy_days_per_week=number,
            median_deploy_days_per_month=number,
            tier=tier,
            four_keys_bucket={
                "type": ["string", "null"],
                "enum": ["daily", "weekly", "monthly", "yearly", None],
            },
        ),
        lead_time=obj(
            median_s=number,
            measured=count,
            not_measured=count,
            commit_time_from={"type": "object", "additionalProperties": {"type": "integer"}},
            tier=tier,
        ),
        change_failure_rate=cfr,
        time_to_restore=obj(median_s=number, incidents=count, unresolved=count, tier=tier),
        notes={"type": "array", "items": {"type": "string"}},
    )
    week = obj(
        week={"type": "string", "format": "date", "description": "Its Monday (UTC)."},
        deploys=count,
        failed=count,
        change_failure_rate=number,
        lead_time_s=number,
        incidents=count,
        time_to_restore_s=number,
    )
    ranged = {
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "weekly": {"type": "array", "items": week},
    }
    detailed = {
        "allOf": [
            keys,
            {
                "properties": {
                    "change_failure_rate": {
                        "properties": {"failed_deploys": {"type": "array", "items": failed}},
                        "required": ["failed_deploys"],
                    }
                }
            },
        ]
    }
    return {
        "DeliveryKeys": keys,
        "Delivery": {
            "allOf": [
                detailed,
                obj(service={"type": "string"}, team={"type": ["string", "null"]}, **ranged),
            ]
        },
        "TeamDelivery": {
            "allOf": [
                detailed,
                obj(
                    team={"type": "string"},
                    services={
                        "type": "array",
                        "items": {"allOf": [_ref("DeliveryKeys"), obj(service={"type": "string"})]},
                    },
                    **ranged,
                ),
            ]
        },
    }


def _components() -> dict[str, Any]:
    t = tables
    alert = Alert.model_json_schema(ref_template="#/components/schemas/{model}")
    evidence = [c for c in t.flaky_evidence.c if c.name != "test_key"]
    days = [
        c
        for c in t.test_days.c
        if c.name not in {"test_key", "suite", "scope", "name", "file", "duration_hist"}
    ]
    delivery = [
        c for c in t.deliveries.c if c.name in {"sink", "outcome", "attempts", "at", "note"}
    ]
    strings = {"type": "array", "items": {"type": "string"}}
    service = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "team": {"type": ["string", "null"]},
            **{key: strings for key in SERVICE_LIST_KEYS},
        },
    }
    return {
        "Error": _ERROR,
        "Alert": alert,
        "AlertDetail": {
            "allOf": [_ref("Alert")],
            "properties": {"deliveries": {"type": "array", "items": _object(delivery)}},
        },
        "Service": service,
        "ServiceDetail": {
            "type": "object",
            "properties": {
                "service": _ref("Service"),
                "pipelines": _array("Pipeline"),
                "builds": _array("Build"),
                "deploys": _array("Deploy"),
                "incidents": _array("Incident"),
                "alerts": _array("Alert"),
                "flaky_tests": _array("Test"),
            },
        },
        "Pipeline": _object(t.pipelines.c),
        "Build": _object(t.builds.c),
        "Test": _object(t.tests.c),
        "TestResult": _object(t.test_results.c),
        "Evidence": _object(evidence),
        "TestDay": _object(days, evidence=_array("Evidence")),
        "TestHistory": {
            "type": "object",
            "required": ["test", "items", "next"],
            "properties": {
                "test": {"oneOf": [_ref("Test"), {"type": "null"}]},
                "items": _array("TestDay"),
                "next": {"type": ["string", "null"]},
            },
        },
        "Deploy": _object(t.deploys.c),
        "Incident": _object(t.incidents.c),
        **_delivery(),
        "Quarantine": _object(t.quarantine.c),
        "QuarantineChange": _object(t.quarantine_changes.c),
        "TestQuarantine": {
            "type": "object",
            "required": ["key", "state", "current", "history"],
            "properties": {
                "key": {"type": "string"},
                "state": {"type": "string", "enum": ["active", "muted", "skipped"]},
                "current": {"type": ["object", "null"]},
                "history": _array("QuarantineChange"),
            },
        },
        "ChangeBody": ChangeBody.model_json_schema(ref_template="#/components/schemas/{model}"),
    }  # fmt: skip


def _change_operation() -> dict[str, Any]:
    """``POST /api/v1/quarantine`` (services.api.changes)."""
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    return {
        "operationId": "changeQuarantine",
        "summary": "Mute, skip or unmute a test (needs a KITESTREAM_WRITE_TOKENS token)",
        "tags": ["quarantine"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("ChangeBody")}},
        },
        "responses": {
            "202": {"description": "Published on tests.quarantine.", "content": {
                "application/json": {"schema": {"type": "object"}}}},
            "200": {"description": "Nothing to change (the test is active already).",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"description": "The body is not a JSON object.", **error},
            "401": {"description": "No or a wrong write token.", **error},
            "403": {"description": "KITESTREAM_WRITE_TOKENS is not set.", **error},
            "404": {"description": "No test with that key in the store.", **error},
            "413": {"description": "The body is too large.", **error},
            "422": {"description": "A field is missing or wrong.", **error},
            "503": {"description": "The store or Kafka is not reachable.", **error},
        },
        "security": [{"bearer": []}],
    }  # fmt: skip


def _path_params(route: Route) -> list[dict[str, Any]]:
    names = re.findall(r"{(\w+)(?::path)?}", route.path)
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


def _operation(route: Route, secured: bool) -> dict[str, Any]:
    if route.item is not None:
        body: dict[str, Any] = {
            "type": "object",
            "required": ["items", "next"],
            "properties": {
                "items": _array(route.item),
                "next": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            },
        }
    else:
        body = _ref(route.schema or "Error")
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": body}}}
    }
    for status, description in _ERRORS.items():
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _path_params(route) + [p.openapi() for p in route.params],
        "responses": responses,
    }
    if secured:
        operation["security"] = [{"bearer": []}]
    return operation


def document(routes: Sequence[Route], version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, Any] = {r.openapi_path: {"get": _operation(r, secured=True)} for r in routes}
    paths.setdefault("/api/v1/quarantine", {})["post"] = _change_operation()
    paths[OPENAPI_PATH] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kitestream query API",
            "version": version,
            "description": (
                "Read-only JSON from the store: services, pipelines and builds, tests and "
                'their history, alerts, deploys, incidents. Lists answer {"items": [...], '
                '"next": cursor-or-null}; pass `next` back as `cursor` for the next page. '
                "With KITESTREAM_READ_TOKENS set, /api/v1 needs `Authorization: Bearer "
                'TOKEN`. Errors answer {"error": "<code>", "detail": "…"}.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
