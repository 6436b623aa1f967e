"""Tokens for the upload API and ``/api/*``: parsed leniently, compared in constant time.

Test collectors send ``Authorization: Token token="…"`` (Python, JavaScript, Ruby),
``bktec`` sends it unquoted (``Token token=…``); both name the suite through
``KITESTREAM_TEST_SUITES`` (``suite-slug=token`` pairs). ``/api/*`` takes
``Authorization: Bearer …`` against ``KITESTREAM_API_TOKENS``.

Each comparison is between SHA-256 digests (equal lengths) with
:func:`hmac.compare_digest`, and every configured token is compared, so neither the
position of the match nor a token's length shows in the time taken.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence

from pydantic import SecretStr

from services.ingest.errors import Unauthorized
from services.ingest.request import Headers, header

__all__ = ["Secret", "SuiteTokens", "bearer_token", "check_bearer", "reveal", "upload_token"]

# A configured secret: plain text in tests, ``SecretStr`` straight from the settings.
Secret = str | SecretStr

# Token token="abc" | Token token=abc | Token abc  (quotes optional, any case)
_TOKEN_SCHEME = re.compile(r'^token\s+(?:token\s*=\s*)?"?([^"\s]+)"?\s*$', re.IGNORECASE)
_BEARER_SCHEME = re.compile(r"^bearer\s+(\S+)\s*$", re.IGNORECASE)


def reveal(secret: Secret) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _digest(token: Secret) -> bytes:
    return hashlib.sha256(reveal(token).encode("utf-8")).digest()


def _matches_any(presented: str, digests: Sequence[bytes]) -> int | None:
    """Index of the configured digest equal to ``presented``'s, checking all of them."""
    mine = _digest(presented)
    found: int | None = None
    for index, digest in enumerate(digests):
        if hmac.compare_digest(mine, digest) and found is None:
            found = index
    return found


def upload_token(headers: Headers) -> str:
    """The token of a Test Engine upload (``Token token=…`` quoted or not, or ``Bearer …``)."""
    raw = (header(headers, "authorization") or "").strip()
    if not raw:
        raise Unauthorized("missing_credentials", 'missing Authorization: Token token="…"')
    match = _TOKEN_SCHEME.match(raw) or _BEARER_SCHEME.match(raw)
    if match is None:
        raise Unauthorized("malformed_credentials", 'Authorization must be Token token="…"')
    return match.group(1)


def bearer_token(headers: Headers) -> str:
    raw = (header(headers, "authorization") or "").strip()
    if not raw:
        raise Unauthorized("missing_credentials", "missing Authorization: Bearer …")
    match = _BEARER_SCHEME.match(raw)
    if match is None:
        raise Unauthorized("malformed_credentials", "Authorization must be Bearer …")
    return match.group(1)


def check_bearer(headers: Headers, tokens: Sequence[Secret]) -> None:
    """Accept the request when its bearer token is one of ``tokens``, else 401."""
    presented = bearer_token(headers)
    if _matches_any(presented, [_digest(t) for t in tokens]) is None:
        raise Unauthorized("bad_token", "the bearer token is not accepted")


class SuiteTokens:
    """Which suite a token belongs to, from ``suite-slug=token`` pairs."""

    def __init__(self, pairs: Iterable[tuple[str, Secret]]) -> None:
        self._suites: list[str] = []
        self._digests: list[bytes] = []
        for suite, token in pairs:
            self._suites.append(suite)
            self._digests.append(_digest(token))

    @classmethod
    def from_mapping(cls, suites: Mapping[str, Secret]) -> SuiteTokens:
        """From ``{"payments-pytest": SecretStr("tok1")}`` (the receiver's settings)."""
        return cls(suites.items())

    @classmethod
    def parse(cls, items: Iterable[str]) -> SuiteTokens:
        """From ``["payments-pytest=tok1", "web-jest=tok2"]``; ValueError on a bad pair."""
        pairs: list[tuple[str, Secret]] = []
        for item in items:
            suite, sep, token = item.partition("=")
            suite, token = suite.strip(), token.strip()
            if not sep or not suite or not token:
                raise ValueError("expected suite-slug=token pairs, got an entry without both")
            pairs.append((suite, token))
        return cls(pairs)

    @property
    def suites(self) -> list[str]:
        return list(self._suites)

    def __len__(self) -> int:
        return len(self._suites)

    def suite_for(self, token: str) -> str | None:
        index = _matches_any(token, self._digests)
        return None if index is None else self._suites[index]

    def authenticate(self, headers: Headers) -> str:
        """The suite slug the request's token names; :class:`Unauthorized` otherwise."""
        suite = self.suite_for(upload_token(headers))
        if suite is None:
            raise Unauthorized("bad_token", "the token belongs to no configured test suite")
        return suite
