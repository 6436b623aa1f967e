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

from services.api.errors import Forbidden, Unauthorized
from services.ingest.auth import SecretSet, SuiteTokens, authorization_token

__all__ = ["ReadAccess", "WriteAccess"]


def _plain(tokens: Iterable[SecretStr | str]) -> SecretSet:
    return SecretSet(t.get_secret_value() if isinstance(t, SecretStr) else t for t in tokens)


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise Unauthorized("missing Authorization: Bearer …")
    token = authorization_token(authorization, schemes=("Bearer", "Token"))
    if token is None:
        raise Unauthorized("Authorization must be Bearer …")
    return token


class ReadAccess:
    """The read tokens, hashed once at start; and the suites' tokens (``suites``), which
    read their own suite's quarantine and test plans (:meth:`suite_scope`)."""

    def __init__(
        self, tokens: Iterable[SecretStr | str], suites: SuiteTokens | None = None
    ) -> None:
        self._tokens = _plain(tokens)
        self._suites = suites or SuiteTokens([])

    def suite_scope(self, authorization: str | None) -> str | None:
        """``None`` when the request may read everything (open API, or a read token);
        the suite's slug when it presents that suite's token; :class:`Unauthorized`
        otherwise."""
        if self.open:
            return None
        token = _bearer(authorization)
        if self._tokens.match(token) is not None:
            return None
        suite = self._suites.suite_for(token) if len(self._suites) else None
        if suite is None:
            raise Unauthorized("the bearer token is not accepted")
        return suite

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


class WriteAccess:
    """The write tokens (``KITESTREAM_WRITE_TOKENS``): required for every change, also on
    loopback; with none configured, writes are refused (403)."""

    def __init__(self, tokens: Iterable[SecretStr | str]) -> None:
        self._tokens = _plain(tokens)

    @property
    def enabled(self) -> bool:
        return len(self._tokens) > 0

    def check(self, authorization: str | None) -> None:
        if not self.enabled:
            raise Forbidden("quarantine changes are off: KITESTREAM_WRITE_TOKENS is not set")
        if self._tokens.match(_bearer(authorization)) is None:
            raise Unauthorized("the bearer token may not change quarantine state")
