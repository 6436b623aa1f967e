"""Credential checks every ingest endpoint shares: constant-time matching, header parsing.

Pure functions, no HTTP: endpoints pass header values in and raise
:class:`~services.receiver.errors.Unauthorized` on a miss. Comparisons run over every
configured secret without stopping at the first match, and compare SHA-256 digests so
that neither the position of a match nor a secret's length shows in the timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

__all__ = ["SecretSet", "authorization_token", "match_secret", "secret_bytes"]


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


def match_secret(given: str | bytes, secrets: Sequence[bytes]) -> int | None:
    """:meth:`SecretSet.match` for a one-off check; hold a :class:`SecretSet` to check
    many requests against the same secrets."""
    return SecretSet(secrets).match(given)


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
