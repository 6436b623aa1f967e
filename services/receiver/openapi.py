"""OpenAPI pieces the endpoint modules write their operations with.

Each endpoint module declares its own operation, component schemas and security
schemes on its :class:`~services.receiver.endpoints.Endpoint`; these helpers keep the
answers they share written once. Nothing here knows which endpoints exist:
``routes.py`` assembles the document from them (and serves it, and checks it in).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR_SCHEMA", "error", "json_body"]

# ``#/components/schemas/Error``: the body of every refusal.
ERROR_SCHEMA: dict[str, Any] = {
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
