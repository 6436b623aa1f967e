"""Why an ingest request was refused: one exception tree, each class an HTTP answer.

The route code catches :class:`IngestError` once and answers
``{"error": err.code, "detail": err.detail}`` with ``err.status``::

    IngestError
    ├── MalformedBody        400 malformed         not JSON / XML / multipart / gzip, or truncated
    ├── Unauthorized         401 unauthorized      missing or wrong token or signature
    ├── TooLarge             413 too_large         over a size or count limit (also after gunzip)
    ├── UnsupportedMedia     415 unsupported_media the Content-Type or Content-Encoding is not taken
    └── SchemaViolation      422 invalid           well-formed, but not the shape the endpoint takes

Every message here is safe to send back: none carries a secret or a token.
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
    code: ClassVar[str] = "malformed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_body(self) -> dict[str, str]:
        """The JSON error body of the receiver contract."""
        return {"error": self.code, "detail": self.detail}


class MalformedBody(IngestError):
    status = 400
    code = "malformed"


class Unauthorized(IngestError):
    status = 401
    code = "unauthorized"


class TooLarge(IngestError):
    status = 413
    code = "too_large"


class UnsupportedMedia(IngestError):
    status = 415
    code = "unsupported_media"


class SchemaViolation(IngestError):
    status = 422
    code = "invalid"

    @classmethod
    def from_validation(cls, what: str, exc: ValidationError) -> SchemaViolation:
        """``"deploy: state: Field required"``: the first problem pydantic found."""
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return cls(f"{what}: {where}: {first['msg']}")
