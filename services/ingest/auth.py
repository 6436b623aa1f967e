"""Credentials: constant-time matching, ``Authorization`` forms, HMAC, suite tokens.

Test collectors send ``Authorization: Token token="…"`` (Python, JavaScript, Ruby),
``bktec`` sends it unquoted (``Token token=…``); either names the suite through
``KITESTREAM_TEST_SUITES`` (``suite-slug=token`` pairs). ``/api/*`` takes
``Authorization: Bearer …`` against ``KITESTREAM_API_TOKENS``.

Every configured secret is compared (:class:`SecretSet`), as SHA-256 digests, so
neither the position of a match nor a token's length shows in the time. Refusals are
:class:`~services.ingest.errors.Unauthorized` with a reason for the metrics. The
receiver's Buildkite verifier (:mod:`services.receiver.signature`) uses the same
pieces.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence

from pydantic import SecretStr

from services.ingest.errors import Unauthorized
from services.ingest.request import Headers, header

__all__ = [
    "Secret",
    "SecretSet",
    "SuiteTokens",
    "authorization_token",
    "check_bearer",
    "hmac_sha256_hex",
    "reveal",
    "secret_bytes",
    "secret_set",
    "upload_token",
]

# A configured secret: plain text in tests, ``SecretStr`` straight from the settings.
Secret = str | SecretStr


def secret_bytes(value: str | bytes) -> bytes:
    """Header values arrive as latin-1 text; compare them as bytes, never as ``str``."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def _digest(value: str | bytes) -> bytes:
    return hashlib.sha256(secret_bytes(value)).digest()


class SecretSet:
    """Configured secrets, hashed once (at startup), to match presented credentials against."""

    __slots__ = ("_digests",)

    def __init__(self, secrets: Iterable[str | bytes]) -> None:
        self._digests = tuple(_digest(secret) for secret in secrets)

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"SecretSet(<{len(self._digests)} hidden>)"

    def match(self, given: str | bytes) -> int | None:
        """The index of the secret equal to ``given``, or ``None``; constant time in
        ``given``: every secret is compared, the first match is kept."""
        digest = _digest(given)
        found: int | None = None
        for index, secret in enumerate(self._digests):
            if hmac.compare_digest(digest, secret) and found is None:
                found = index
        return found


def hmac_sha256_hex(key: bytes, *parts: bytes) -> str:
    """HMAC-SHA256 of the concatenated ``parts``, lowercase hex."""
    return hmac.digest(key, b"".join(parts), "sha256").hex()


def authorization_token(header: str | None, *, schemes: Sequence[str] = ("Bearer",)) -> str | None:
    """The credential in an ``Authorization`` header for one of ``schemes``.

    Accepts ``Bearer abc``, ``Token abc`` and ``Token token="abc"`` (quoted or not), the
    forms Buildkite's test collectors and API clients send. The scheme is matched
    case-insensitively; anything else gives ``None``.
    """
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() not in {s.lower() for s in schemes}:
        return None
    rest = rest.strip()
    name, sep, value = rest.partition("=")
    if sep and name.strip().lower() == "token":
        rest = value.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] == '"':
        rest = rest[1:-1]
    return rest or None


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
