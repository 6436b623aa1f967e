"""Credential checks every ingest endpoint shares: constant-time matching, header parsing.

Pure functions, no HTTP: endpoints pass header values in and raise
:class:`~services.receiver.errors.Unauthorized` on a miss. Comparisons run over every
configured secret without stopping at the first match, and compare SHA-256 digests so
that neither the position of a match nor a secret's length shows in the timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["authorization_token", "match_secret", "secret_bytes"]


def secret_bytes(value: str | bytes) -> bytes:
    """Header values arrive as latin-1 text; compare them as bytes, never as ``str``."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def match_secret(given: str | bytes, secrets: Sequence[bytes]) -> int | None:
    """The index of the secret equal to ``given``, or ``None``; constant time in ``given``."""
    digest = hashlib.sha256(secret_bytes(given)).digest()
    found: int | None = None
    for index, secret in enumerate(secrets):
        if hmac.compare_digest(digest, hashlib.sha256(secret).digest()) and found is None:
            found = index
    return found


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
