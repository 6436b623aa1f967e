"""The checked-in OpenAPI document is what the endpoints generate, and it is coherent."""

from __future__ import annotations

from typing import Any

import orjson

from services.receiver.routes import CHECKED_IN, ENDPOINTS, document, render


def test_checked_in_openapi_matches_the_endpoints() -> None:
    assert CHECKED_IN.is_file(), "run `python -m services.receiver.routes`"
    assert CHECKED_IN.read_bytes() == render(ENDPOINTS), (
        "services/receiver/openapi.json drifted: run `python -m services.receiver.routes`"
    )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_reference_in_the_document_resolves() -> None:
    doc = document(ENDPOINTS)
    schemas = doc["components"]["schemas"]
    refs = _refs(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_contract_paths_and_error_shape_are_documented() -> None:
    doc = orjson.loads(CHECKED_IN.read_bytes())
    assert {
        "/webhooks/buildkite",
        "/v1/uploads",
        "/webhooks/pagerduty",
        "/api/deploys",
        "/api/incidents",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    } <= set(doc["paths"])
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    responses = doc["paths"]["/webhooks/buildkite"]["post"]["responses"]
    assert {"200", "202", "400", "401", "413", "415", "422", "503"} <= set(responses)
    for path in ("/v1/uploads", "/webhooks/pagerduty", "/api/deploys", "/api/incidents"):
        responses = doc["paths"][path]["post"]["responses"]
        assert {"202", "400", "401", "413", "415", "422", "503"} <= set(responses), path


def test_ingest_endpoints_document_their_bodies_and_credentials() -> None:
    doc = document(ENDPOINTS)
    schemas = doc["components"]["schemas"]
    assert schemas["DeployRequest"]["required"] == ["service", "state"]
    assert schemas["IncidentRequest"]["required"] == ["incident_id", "service", "title"]
    uploads = doc["paths"]["/v1/uploads"]["post"]["requestBody"]["content"]
    assert set(uploads) == {"application/json", "multipart/form-data"}
    assert doc["paths"]["/api/deploys"]["post"]["security"] == [{"apiToken": []}]
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"testSuiteToken", "pagerdutySignature", "apiToken"}
    assert schemes["pagerdutySignature"]["name"] == "X-PagerDuty-Signature"
    for operation in (op for item in doc["paths"].values() for op in item.values()):
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes)
