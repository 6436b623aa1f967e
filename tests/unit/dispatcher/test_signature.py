"""The webhook signature: HMAC-SHA256 over "<t>." + body, checked the receiver's way."""

from __future__ import annotations

import hashlib
import hmac

from services.dispatcher.signature import sign, verify

SECRET = b"whsec"
BODY = b'{"alert_id":"a1"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1785578400." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, 1785578400) == f"t=1785578400,v1={expected}"


def test_a_signature_verifies_with_its_secret_within_the_tolerance() -> None:
    header = sign(SECRET, BODY, 1000)
    assert verify([SECRET], BODY, header, now=1000)
    assert verify([SECRET], BODY, header, now=1300)
    assert not verify([SECRET], BODY, header, now=1301)
    assert not verify([SECRET], BODY, header, now=699)


def test_a_changed_body_a_wrong_secret_or_a_changed_time_fail() -> None:
    header = sign(SECRET, BODY, 1000)
    assert not verify([SECRET], BODY + b" ", header, now=1000)
    assert not verify([b"other"], BODY, header, now=1000)
    assert not verify([SECRET], BODY, header.replace("t=1000", "t=1001"), now=1000)


def test_rotation_any_of_several_secrets_or_signatures_is_accepted() -> None:
    old, new = sign(b"old", BODY, 1000), sign(b"new", BODY, 1000)
    both = f"{new},{old.split(',')[1]}"
    assert verify([b"old"], BODY, both, now=1000)
    assert verify([b"new", b"other"], BODY, new, now=1000)


def test_malformed_headers_fail() -> None:
    for header in ["", "t=1000", "v1=abc", "t=soon,v1=abc", "garbage"]:
        assert not verify([SECRET], BODY, header, now=1000)
