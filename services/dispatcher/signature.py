"""The signature on generic webhook requests, and how a receiver checks it. Pure.

Each request carries ``X-Kitestream-Signature: t=<unix seconds>,v1=<hex>`` where ``hex``
is HMAC-SHA256 with the sink's secret over ``f"{t}."`` followed by the raw body bytes.
The timestamp is when this attempt was sent (a retry is signed afresh), so a receiver can
refuse old requests; it should also drop repeats of the ``Idempotency-Key`` header, which
is the alert's ``alert_id`` on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Kitestream-Signature"


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secrets: list[bytes], body: bytes, header: str, *, now: int, tolerance_s: int = 300
) -> bool:
    """True when ``header`` signs ``body`` with one of ``secrets`` within the tolerance.

    Several ``v1=`` values (and several secrets) are accepted so that a secret can be
    rotated without a gap.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_s:
        return False
    expected = [_digest(secret, timestamp, body) for secret in secrets]
    return any(hmac.compare_digest(e, c) for e in expected for c in candidates)
