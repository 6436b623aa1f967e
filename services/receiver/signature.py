"""Buildkite webhook authentication, in both of Buildkite's modes, as pure functions.

Token mode: ``X-Buildkite-Token`` equals one of the configured tokens.

Signature mode: ``X-Buildkite-Signature: timestamp=T,signature=HEX`` where HEX is
HMAC-SHA256, keyed with the token, over the bytes ``T`` + ``.`` + raw body. The raw bytes
are verified before anything parses them, and ``T`` must lie within the tolerance of
now, in either direction (a replay is old; a far-future stamp is forged or a broken
clock). Several tokens may be configured at once so that a token can be rotated.

Every failure raises :class:`~services.ingest.errors.Unauthorized` with a ``reason``
label for metrics and logs and a detail that never repeats the credential.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.ingest.auth import SecretSet, hmac_sha256_hex, secret_bytes
from services.ingest.errors import Unauthorized

__all__ = [
    "AuthMode",
    "BuildkiteSignature",
    "BuildkiteVerifier",
    "parse_pairs_header",
    "parse_signature",
    "sign",
]


class AuthMode(StrEnum):
    TOKEN = "token"  # noqa: S105 - the name of a mode, not a secret
    SIGNATURE = "signature"


def sign(token: str, timestamp: int, body: bytes) -> str:
    """The ``X-Buildkite-Signature`` value Buildkite sends for ``body`` at ``timestamp``."""
    signature = hmac_sha256_hex(token.encode(), str(timestamp).encode(), b".", body)
    return f"timestamp={timestamp},signature={signature}"


def parse_pairs_header(value: str) -> list[tuple[str, str]]:
    """``"a=1, b = 2,junk"`` as ``[("a", "1"), ("b", "2")]``: split on ``,``, then on the
    first ``=``, strip spaces; parts without ``=`` are dropped. Keys are lowercased."""
    pairs = []
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep:
            pairs.append((key.strip().lower(), val.strip()))
    return pairs


@dataclass(frozen=True)
class BuildkiteSignature:
    timestamp: int
    stamp: str  # T exactly as sent: the HMAC covers these bytes
    signature: str


def parse_signature(value: str) -> BuildkiteSignature:
    """Read ``timestamp=T,signature=HEX`` leniently; :class:`Unauthorized` when unusable."""
    pairs = dict(parse_pairs_header(value))
    stamp, signature = pairs.get("timestamp", ""), pairs.get("signature", "")
    if not stamp or not signature:
        raise Unauthorized(
            "malformed_signature", "X-Buildkite-Signature needs timestamp=T,signature=HEX"
        )
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        raise Unauthorized("malformed_signature", "the signature timestamp is not a Unix time")
    return BuildkiteSignature(int(stamp), stamp, signature.lower())


_HEX_DIGITS = 64  # of an HMAC-SHA256


class BuildkiteVerifier:
    """Checks one request's Buildkite credentials against the configured tokens."""

    def __init__(
        self, tokens: Sequence[str], *, tolerance_s: float = 300.0, require_signature: bool = False
    ) -> None:
        if not tokens:
            raise ValueError("at least one Buildkite token is required")
        self._tokens = [secret_bytes(t) for t in tokens]  # the HMAC keys
        # Keyed once: a copy per request skips hashing the padded key twice.
        self._keyed = [hmac.new(key, digestmod=hashlib.sha256) for key in self._tokens]
        self._token_set = SecretSet(self._tokens)  # token mode
        self.tolerance_s = tolerance_s
        self.require_signature = require_signature

    def __repr__(self) -> str:
        return f"BuildkiteVerifier(tokens=<{len(self._tokens)} hidden>)"

    def verify(
        self, *, token: str | None, signature: str | None, body: bytes, now: float
    ) -> AuthMode:
        """Accept or raise; a signature, when present, is checked even if a token is too."""
        if signature:
            self._verify_signature(parse_signature(signature), body, now)
            return AuthMode.SIGNATURE
        if self.require_signature:
            raise Unauthorized("signature_required", "X-Buildkite-Signature is required")
        if not token:
            raise Unauthorized(
                "missing_credentials", "send X-Buildkite-Token or X-Buildkite-Signature"
            )
        if self._token_set.match(token) is None:
            raise Unauthorized("bad_token", "X-Buildkite-Token does not match")
        return AuthMode.TOKEN

    def _verify_signature(self, parsed: BuildkiteSignature, body: bytes, now: float) -> None:
        if abs(now - parsed.timestamp) > self.tolerance_s:
            raise Unauthorized(
                "timestamp_outside_tolerance",
                f"the signature timestamp is more than {self.tolerance_s:.0f}s from now",
            )
        try:  # 32 bytes only from exactly 64 hex digits (fromhex skips spaces)
            given = bytes.fromhex(parsed.signature)
        except ValueError:
            given = b""  # not hex: matches nothing, and is refused below like any mismatch
        prefix = parsed.stamp.encode() + b"."
        matched = False
        for keyed in self._keyed:  # every token, no early exit
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)  # the body is hashed where it lies, not copied behind T.
            matched |= hmac.compare_digest(mac.digest(), given)
        matched &= len(parsed.signature) == _HEX_DIGITS
        if not matched:
            raise Unauthorized("bad_signature", "X-Buildkite-Signature does not match the body")
