"""Buildkite token and signature checks: the documented vector, rotation, tolerance."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.ingest.auth import hmac_sha256_hex
from services.ingest.errors import Unauthorized
from services.receiver.signature import (
    AuthMode,
    BuildkiteVerifier,
    parse_pairs_header,
    parse_signature,
    sign,
)

VECTOR_TOKEN = "my-webhook-token"
VECTOR_T = 1700000000
VECTOR_BODY = b'{"event":"ping"}'
VECTOR_HEX = "0869b5dc02b7bade9ce776473bfe6e07de45308751da39c5b16fd05484dc33b0"


def verifier(*tokens: str, require_signature: bool = False) -> BuildkiteVerifier:
    return BuildkiteVerifier(
        list(tokens) or [VECTOR_TOKEN], tolerance_s=300, require_signature=require_signature
    )


def reason(exc: pytest.ExceptionInfo[Unauthorized]) -> str:
    return exc.value.reason


def test_signature_matches_the_documented_test_vector() -> None:
    assert hmac_sha256_hex(VECTOR_TOKEN.encode(), b"1700000000", b".", VECTOR_BODY) == VECTOR_HEX
    assert (
        sign(VECTOR_TOKEN, VECTOR_T, VECTOR_BODY) == f"timestamp={VECTOR_T},signature={VECTOR_HEX}"
    )


def test_documented_vector_is_accepted_in_signature_mode() -> None:
    header = f"timestamp={VECTOR_T},signature={VECTOR_HEX}"
    mode = verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T + 1)
    assert mode is AuthMode.SIGNATURE


def test_signature_header_is_parsed_leniently() -> None:
    header = f" Timestamp = {VECTOR_T} ,  signature= {VECTOR_HEX.upper()} , extra=1,junk"
    parsed = parse_signature(header)
    assert (parsed.timestamp, parsed.signature) == (VECTOR_T, VECTOR_HEX)
    verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T)


def test_pairs_split_on_the_first_equals_sign_only() -> None:
    assert parse_pairs_header("a=b=c, d =e") == [("a", "b=c"), ("d", "e")]


def test_every_configured_token_is_accepted_for_rotation() -> None:
    check = verifier("old-token", "new-token")
    for token in ("old-token", "new-token"):
        assert check.verify(token=token, signature=None, body=b"", now=0) is AuthMode.TOKEN
        header = sign(token, VECTOR_T, VECTOR_BODY)
        check.verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T)


def test_wrong_token_is_rejected() -> None:
    with pytest.raises(Unauthorized) as exc:
        verifier("right").verify(token="righ", signature=None, body=b"", now=0)
    assert reason(exc) == "bad_token"


@pytest.mark.parametrize("skew", [-301, 301, -86_400, 86_400])
def test_signature_timestamp_outside_tolerance_is_rejected_on_both_sides(skew: int) -> None:
    header = sign(VECTOR_TOKEN, VECTOR_T, VECTOR_BODY)
    with pytest.raises(Unauthorized) as exc:
        verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T + skew)
    assert reason(exc) == "timestamp_outside_tolerance"


@pytest.mark.parametrize("skew", [-300, 300])
def test_signature_timestamp_at_the_edge_of_tolerance_is_accepted(skew: int) -> None:
    header = sign(VECTOR_TOKEN, VECTOR_T, VECTOR_BODY)
    verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T - skew)


def test_tampered_body_is_rejected() -> None:
    header = sign(VECTOR_TOKEN, VECTOR_T, VECTOR_BODY)
    with pytest.raises(Unauthorized) as exc:
        verifier().verify(token=None, signature=header, body=b'{"event":"pong"}', now=VECTOR_T)
    assert reason(exc) == "bad_signature"


def test_signature_with_another_timestamp_than_signed_is_rejected() -> None:
    header = f"timestamp={VECTOR_T + 1},signature={VECTOR_HEX}"
    with pytest.raises(Unauthorized) as exc:
        verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T)
    assert reason(exc) == "bad_signature"


def test_signature_is_checked_even_when_a_valid_token_is_also_sent() -> None:
    header = sign("someone-else", VECTOR_T, VECTOR_BODY)
    with pytest.raises(Unauthorized):
        verifier().verify(token=VECTOR_TOKEN, signature=header, body=VECTOR_BODY, now=VECTOR_T)


def test_missing_credentials_are_rejected() -> None:
    with pytest.raises(Unauthorized) as exc:
        verifier().verify(token=None, signature=None, body=b"", now=0)
    assert reason(exc) == "missing_credentials"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"signature={VECTOR_HEX}",
        "timestamp=1700000000",
        f"timestamp=,signature={VECTOR_HEX}",
        f"timestamp=17e8,signature={VECTOR_HEX}",
        f"timestamp=-1700000000,signature={VECTOR_HEX}",
        f"timestamp=١٧٠٠٠٠٠٠٠٠,signature={VECTOR_HEX}",  # non-ASCII digits
        f"timestamp=99999999999999999999,signature={VECTOR_HEX}",
        "timestamp=1700000000,signature=",
    ],
)
def test_malformed_signature_header_is_rejected(header: str) -> None:
    with pytest.raises(Unauthorized) as exc:
        verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T)
    assert reason(exc) == "malformed_signature"


def test_non_ascii_signature_is_rejected_not_crashed() -> None:
    header = f"timestamp={VECTOR_T},signature=é{VECTOR_HEX[1:]}"
    with pytest.raises(Unauthorized) as exc:
        verifier().verify(token=None, signature=header, body=VECTOR_BODY, now=VECTOR_T)
    assert reason(exc) == "bad_signature"


def test_token_mode_is_refused_when_signatures_are_required() -> None:
    with pytest.raises(Unauthorized) as exc:
        verifier(require_signature=True).verify(token=VECTOR_TOKEN, signature=None, body=b"", now=0)
    assert reason(exc) == "signature_required"


def test_timestamp_is_signed_exactly_as_sent() -> None:
    body = b"{}"
    stamp = f"0{VECTOR_T}"
    mac = hmac_sha256_hex(VECTOR_TOKEN.encode(), stamp.encode(), b".", body)
    header = f"timestamp={stamp},signature={mac}"
    verifier().verify(token=None, signature=header, body=body, now=VECTOR_T)


def test_verifier_repr_hides_the_tokens() -> None:
    assert VECTOR_TOKEN not in repr(verifier())


def test_a_verifier_needs_a_token() -> None:
    with pytest.raises(ValueError, match="token"):
        BuildkiteVerifier([])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda hexsig: hexsig[:10] + " " + hexsig[10:-1],  # spaces, which fromhex skips
        lambda hexsig: hexsig + "00",
        lambda hexsig: hexsig[:-2],
        lambda hexsig: "zz" + hexsig[2:],
        lambda hexsig: "é" + hexsig[1:],
    ],
)
def test_a_signature_that_is_not_exactly_the_hex_digest_is_rejected(
    mangle: Callable[[str], str],
) -> None:
    body = b'{"event":"ping"}'
    header = sign("secret-token", 1_700_000_000, body)
    stamp, _, hexsig = header.partition(",signature=")
    verifier = BuildkiteVerifier(["secret-token"])
    assert verifier.verify(token=None, signature=header, body=body, now=1_700_000_000)
    with pytest.raises(Unauthorized):
        verifier.verify(
            token=None,
            signature=f"{stamp},signature={mangle(hexsig)}",
            body=body,
            now=1_700_000_000,
        )
