"""Who may read: bearer tokens from ``KITESTREAM_READ_TOKENS``, compared in constant time.

With no token configured the API is open (it then only binds loopback, see
:func:`services.api.settings.check_exposure`). With tokens, every ``/api/v1`` request
needs ``Authorization: Bearer <token>``. Matching is the ingest library's
:class:`~services.ingest.auth.SecretSet`: every configured token is compared as a
SHA-256 digest, so neither which token matched nor a token's length shows in the time.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr

from services.api.errors import Unauthorized
from services.ingest.auth import SecretSet, authorization_token

__all__ = ["ReadAccess"]


class ReadAccess:
    """The read tokens, hashed once at start."""

    def __init__(self, tokens: Iterable[SecretStr | str]) -> None:
        self._tokens = SecretSet(
            t.get_secret_value() if isinstance(t, SecretStr) else t for t in tokens
        )

    @property
    def open(self) -> bool:
        return len(self._tokens) == 0

    def check(self, authorization: str | None) -> None:
        """Pass, or :class:`Unauthorized` (never saying what was presented)."""
        if self.open:
            return
        if not authorization or not authorization.strip():
            raise Unauthorized("missing Authorization: Bearer …")
        token = authorization_token(authorization, schemes=("Bearer",))
        if token is None:
            raise Unauthorized("Authorization must be Bearer …")
        if self._tokens.match(token) is None:
            raise Unauthorized("the bearer token is not accepted")
