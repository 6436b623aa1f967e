"""The one shape of an HTTP error answer in kitestream: status, stable code, detail.

The receiver's refusals (:mod:`services.ingest.errors`) and the query API's errors
(:mod:`services.api.errors`) both derive from :class:`HttpError`, so every kitestream
endpoint answers the same contract body, ``{"error": code, "detail": …}``.
"""

from __future__ import annotations

__all__ = ["HttpError"]


class HttpError(Exception):
    """An error answer: HTTP ``status``, a stable ``code`` and a human ``detail``."""

    status = 500
    code = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_body(self) -> dict[str, str]:
        """The JSON error body of the contract."""
        return {"error": self.code, "detail": self.detail}
