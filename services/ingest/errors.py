"""Why an ingest request was refused: one exception tree, each class an HTTP answer.

Route code catches :class:`IngestError` once and answers ``err.to_body()``
(``{"error": err.code, "detail": err.detail}``) with ``err.status``. Status and code
are the receiver's (``services/receiver/errors.py``), so a refusal reads the same
whichever module found it::

    IngestError
    ├── MalformedBody      400 malformed_body          not JSON/XML/multipart/gzip, or cut short
    ├── Unauthorized       401 unauthorized            missing or wrong token or signature;
    │                                                  ``reason`` labels it for metrics
    ├── TooLarge           413 payload_too_large       over a size or count limit (after gunzip)
    ├── UnsupportedMedia   415 unsupported_media_type  Content-Type or Content-Encoding not taken
    └── SchemaViolation    422 invalid_payload         well-formed, but not the endpoint's shape

Every ``detail`` is safe to send back: none carries a secret, token or signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "IngestError",
    "MalformedBody",
    "SchemaViolation",
    "TooLarge",
    "Unauthorized",
    "UnsupportedMedia",
]


class IngestError(Exception):
    """A request the receiver must refuse; nothing of it reaches Kafka."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "malformed_body"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_body(self) -> dict[str, str]:
        """The JSON error body of the receiver contract."""
        return {"error": self.code, "detail": self.detail}


class MalformedBody(IngestError):
    status = 400
    code = "malformed_body"


class Unauthorized(IngestError):
    """Bad or missing credentials; ``reason`` is a short label for metrics and logs:
    ``missing_credentials``, ``malformed_credentials``, ``bad_token``, ``bad_signature``."""

    status = 401
    code = "unauthorized"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class TooLarge(IngestError):
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(IngestError):
    status = 415
    code = "unsupported_media_type"


class SchemaViolation(IngestError):
    status = 422
    code = "invalid_payload"

    @classmethod
    def from_validation(cls, what: str, exc: ValidationError) -> SchemaViolation:
        """``"deploy: state: Field required"``: the first problem pydantic found."""
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return cls(f"{what}: {where}: {first['msg']}")
