"""The checked-in OpenAPI document is what the endpoints generate, and it is coherent."""

from __future__ import annotations

from typing import Any

import orjson

from services.receiver.openapi import CHECKED_IN, document, render
from services.receiver.routes import ENDPOINTS


def test_checked_in_openapi_matches_the_endpoints() -> None:
    assert CHECKED_IN.is_file(), "run `python -m services.receiver.openapi`"
    assert CHECKED_IN.read_bytes() == render(ENDPOINTS), (
        "services/receiver/openapi.json drifted: run `python -m services.receiver.openapi`"
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
    assert {"/webhooks/buildkite", "/healthz", "/readyz", "/metrics", "/openapi.json"} <= set(
        doc["paths"]
    )
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    responses = doc["paths"]["/webhooks/buildkite"]["post"]["responses"]
    assert {"200", "202", "400", "401", "413", "415", "422", "503"} <= set(responses)
