"""The receiver's OpenAPI document, built from its endpoints, served and checked in.

``GET /openapi.json`` serves :func:`document` of the app's endpoints, and the same
document is checked in beside this module as ``openapi.json``; a test fails when the two
drift. Regenerate after changing an endpoint::

    python -m services.receiver.openapi
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from services.receiver.endpoints import Endpoint

__all__ = ["CHECKED_IN", "OPENAPI_PATH", "document", "error", "json_body", "render"]

CHECKED_IN = Path(__file__).with_name("openapi.json")
OPENAPI_PATH = "/openapi.json"

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A stable code: unauthorized, malformed_body, payload_too_large, …",
        },
        "detail": {"type": "string", "description": "What was wrong, for a person."},
    },
}


def json_body(description: str, ref: str) -> dict[str, Any]:
    """A response object whose JSON body is ``#/components/schemas/<ref>``."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def error(description: str) -> dict[str, Any]:
    """A response object for a refusal: the contract's error body."""
    return json_body(description, "Error")


def document(endpoints: Sequence[Endpoint], version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    security_schemes: dict[str, Any] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = endpoint.openapi
        schemas.update(endpoint.schemas)
        security_schemes.update(endpoint.security_schemes)
    components: dict[str, Any] = {"schemas": schemas}
    if security_schemes:
        components["securitySchemes"] = security_schemes
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
            "title": "kitestream receiver",
            "version": version,
            "description": (
                "Verified webhooks, test results, deploys and incidents onto Kafka. Every "
                "2xx means the event is durable: acked by Kafka (acks=all) or fsync'd to "
                "the local spool while Kafka is away. A refused request writes nothing. "
                'Errors answer {"error": "<code>", "detail": "…"}.'
            ),
        },
        "paths": paths,
        "components": components,
    }


def render(endpoints: Sequence[Endpoint]) -> bytes:
    """The document as checked in: indented, keys sorted, newline at the end."""
    return (
        orjson.dumps(document(endpoints), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )


def main() -> int:
    from services.receiver.routes import ENDPOINTS

    CHECKED_IN.write_bytes(render(ENDPOINTS))
    sys.stdout.write(f"wrote {CHECKED_IN}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
