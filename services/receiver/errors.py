"""The receiver's exceptions, one tree::

    ReceiverError
    ├── SettingsError            a required setting is missing or invalid: refuse to start
    ├── SpoolError               the spool directory cannot be opened, locked or read
    ├── ProduceFailed            Kafka did not ack in time (``retry_elsewhere``: spool it)
    └── HttpError                an answer to the client: status, code, detail
        ├── Unauthorized         401, with a ``reason`` for metrics and logs
        ├── MalformedBody        400
        ├── RequestTimeout       408, the client sent its body too slowly
        ├── PayloadTooLarge      413, body or produced message over a limit
        ├── UnsupportedMedia     415
        ├── InvalidPayload       422, well-formed JSON that breaks the schema
        └── Unavailable          503, neither Kafka nor the spool can take the event

This is the one tree for every refusal: the receiver's own code and the pure ingest
parsers (:mod:`services.ingest`) raise these same classes, so status and code are
defined here only, and :meth:`HttpError.to_body` is the only place an error becomes the
contract's ``{"error": code, "detail": …}`` body (the endpoint wrapper answers it and
logs one line). A ``detail`` never carries a secret, a token or a signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "HttpError",
    "InvalidPayload",
    "MalformedBody",
    "PayloadTooLarge",
    "ProduceFailed",
    "ReceiverError",
    "RequestTimeout",
    "SettingsError",
    "SpoolError",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMedia",
]


class ReceiverError(Exception):
    """Base of every error the receiver raises on purpose."""


class SettingsError(ReceiverError):
    """A required setting is missing or invalid; the message names the variable."""


class SpoolError(ReceiverError):
    """The spool directory cannot be used (not writable, locked by another process)."""


class ProduceFailed(ReceiverError):
    """Kafka did not acknowledge a batch.

    ``fatal`` marks errors after which the producer itself is no longer usable
    (aiokafka #1017: an idempotent producer stuck on ``OutOfOrderSequenceNumber``);
    ``rejected`` marks a message the broker will never take (too large), which must
    not be retried.
    """

    def __init__(self, reason: str, *, fatal: bool = False, rejected: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal
        self.rejected = rejected


class HttpError(ReceiverError):
    """An error answer: HTTP ``status``, a stable ``code`` and a human ``detail``."""

    status = 500
    code = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_body(self) -> dict[str, str]:
        """The JSON error body of the receiver contract."""
        return {"error": self.code, "detail": self.detail}


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
