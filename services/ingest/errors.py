"""Every refusal of the receiver's HTTP API, one tree::

    HttpError                    an answer to the client: status, code, detail
    ├── Unauthorized             401, with a ``reason`` for metrics and logs
    ├── MalformedBody            400
    ├── RequestTimeout           408, the client sent its body too slowly
    ├── PayloadTooLarge          413, body or produced message over a limit
    ├── UnsupportedMedia         415
    ├── InvalidPayload           422, well-formed JSON that breaks the schema
    └── Unavailable              503, neither Kafka nor the spool can take the event

The pure readers of this package and the receiver's shell around them
(:mod:`services.receiver`) raise these same classes, so status and code are defined
here only, and :meth:`HttpError.to_body` is the only place an error becomes the
contract's ``{"error": code, "detail": …}`` body (the receiver's endpoint wrapper
answers it and logs one line). A ``detail`` never carries a secret, a token or a
signature. The receiver's own failures (settings, spool, Kafka) are
:mod:`services.receiver.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.common.httperror import HttpError

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "HttpError",
    "InvalidPayload",
    "MalformedBody",
    "PayloadTooLarge",
    "RequestTimeout",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMedia",
]


class Unauthorized(HttpError):
    """Bad or missing credentials; ``reason`` is a short label for metrics and logs
    (``missing_credentials``, ``malformed_credentials``, ``bad_token``, ``bad_signature``,
    …)."""

    status = 401
    code = "unauthorized"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class MalformedBody(HttpError):
    status = 400
    code = "malformed_body"


class RequestTimeout(HttpError):
    status = 408
    code = "request_timeout"


class PayloadTooLarge(HttpError):
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(HttpError):
    status = 415
    code = "unsupported_media_type"


class InvalidPayload(HttpError):
    status = 422
    code = "invalid_payload"

    @classmethod
    def from_validation(cls, what: str, exc: ValidationError) -> InvalidPayload:
        """``"deploy: state: Field required"``: the first problem pydantic found."""
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return cls(f"{what}: {where}: {first['msg']}")


class Unavailable(HttpError):
    status = 503
    code = "unavailable"
