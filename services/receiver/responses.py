"""JSON answers: every body the receiver sends, errors included, is orjson-encoded."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["error_response", "json_response"]


def json_response(status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, media_type="application/json", headers=headers
    )


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The contract's error body: ``{"error": "<code>", "detail": "…"}``."""
    return json_response(status, {"error": code, "detail": detail}, headers)
