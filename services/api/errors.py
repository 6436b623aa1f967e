"""The query API's exceptions, one tree::

    ApiError
    └── HttpError            an answer to the client: status, code, detail
        ├── StoreUnavailable 503, the store's database cannot be read
        ├── BadRequest       400, e.g. a cursor this API did not hand out
        ├── Unauthorized     401, no or a wrong bearer token
        ├── Forbidden        403, writes asked of an API with no write tokens
        ├── NotFound         404, no such service, pipeline, test or alert
        ├── InvalidQuery     422, a query parameter breaks its schema (bad date, limit)
        ├── InvalidBody      422, a request body breaks its schema (a quarantine change)
        ├── TooLarge         413, a request body over the limit
        └── Unpublished      503, Kafka did not take a quarantine change

:meth:`HttpError.to_body` gives the same ``{"error": code, "detail": …}`` body as the
receiver's errors. A ``detail`` never carries a token. Settings that stop the start
(a missing token, an unreadable catalog) raise the shared
:class:`services.common.settings.SettingsError`: ``kitestream`` exits 2 on it.
"""

from __future__ import annotations

from services.common.httperror import HttpError as HttpAnswer

__all__ = [
    "ApiError",
    "BadRequest",
    "Forbidden",
    "HttpError",
    "InvalidBody",
    "InvalidQuery",
    "NotFound",
    "StoreUnavailable",
    "TooLarge",
    "Unauthorized",
    "Unpublished",
]


class ApiError(Exception):
    """Base of every error the query API raises on purpose."""


class HttpError(ApiError, HttpAnswer):
    """An error answer: HTTP ``status``, a stable ``code`` and a human ``detail``."""


class StoreUnavailable(HttpError):
    status = 503
    code = "unavailable"


class BadRequest(HttpError):
    status = 400
    code = "bad_request"


class Unauthorized(HttpError):
    status = 401
    code = "unauthorized"


class NotFound(HttpError):
    status = 404
    code = "not_found"


class InvalidQuery(HttpError):
    status = 422
    code = "invalid_query"


class Forbidden(HttpError):
    status = 403
    code = "forbidden"


class InvalidBody(HttpError):
    status = 422
    code = "invalid_body"


class TooLarge(HttpError):
    status = 413
    code = "too_large"


class Unpublished(HttpError):
    status = 503
    code = "unavailable"
