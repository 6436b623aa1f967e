"""Tokens for the upload API and ``/api/*``, checked with the receiver's credential code.

Test collectors send ``Authorization: Token token="…"`` (Python, JavaScript, Ruby),
``bktec`` sends it unquoted (``Token token=…``); either names the suite through
``KITESTREAM_TEST_SUITES`` (``suite-slug=token`` pairs). ``/api/*`` takes
``Authorization: Bearer …`` against ``KITESTREAM_API_TOKENS``.

Parsing the header and the constant-time comparison are the receiver's
(:mod:`services.receiver.auth`): every configured secret is compared, as SHA-256
digests, so neither the position of a match nor a token's length shows in the time.
This module adds what ingest needs on top: suites by token, and the refusals as
:class:`~services.receiver.errors.Unauthorized` with a reason for the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import SecretStr

from services.ingest.request import Headers, header
from services.receiver.auth import SecretSet, authorization_token
from services.receiver.errors import Unauthorized

__all__ = ["Secret", "SuiteTokens", "check_bearer", "reveal", "secret_set", "upload_token"]

# A configured secret: plain text in tests, ``SecretStr`` straight from the settings.
Secret = str | SecretStr


def reveal(secret: Secret) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _token(headers: Headers, schemes: tuple[str, ...], shown: str) -> str:
    raw = header(headers, "authorization")
    if not raw or not raw.strip():
        raise Unauthorized("missing_credentials", f"missing Authorization: {shown}")
    token = authorization_token(raw, schemes=schemes)
    if token is None:
        raise Unauthorized("malformed_credentials", f"Authorization must be {shown}")
    return token


def upload_token(headers: Headers) -> str:
    """The token of a Test Engine upload (``Token token=…`` quoted or not, or ``Bearer …``)."""
    return _token(headers, ("Token", "Bearer"), 'Token token="…"')


def secret_set(secrets: Iterable[Secret]) -> SecretSet:
    """``secrets`` (plain or from the settings) ready to match; made once per app."""
    return SecretSet(reveal(secret) for secret in secrets)


def check_bearer(headers: Headers, tokens: SecretSet | Sequence[Secret]) -> None:
    """Accept the request when its bearer token is one of ``tokens``, else 401.

    A route passes a :class:`SecretSet` it made once (:func:`secret_set`)."""
    presented = _token(headers, ("Bearer",), "Bearer …")
    accepted = tokens if isinstance(tokens, SecretSet) else secret_set(tokens)
    if accepted.match(presented) is None:
        raise Unauthorized("bad_token", "the bearer token is not accepted")


class SuiteTokens:
    """Which suite a token belongs to, from ``suite-slug=token`` pairs."""

    def __init__(self, pairs: Iterable[tuple[str, Secret]]) -> None:
        self._suites: list[str] = []
        tokens: list[Secret] = []
        for suite, token in pairs:
            self._suites.append(suite)
            tokens.append(token)
        self._secrets = secret_set(tokens)

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
        index = self._secrets.match(token)
        return None if index is None else self._suites[index]

    def authenticate(self, headers: Headers) -> str:
        """The suite slug the request's token names; :class:`Unauthorized` otherwise."""
        suite = self.suite_for(upload_token(headers))
        if suite is None:
            raise Unauthorized("bad_token", "the token belongs to no configured test suite")
        return suite
