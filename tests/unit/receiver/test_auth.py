"""Shared credential helpers: constant-time matching and Authorization header forms."""

from __future__ import annotations

import pytest

from services.receiver.auth import authorization_token, match_secret


def test_match_secret_finds_the_matching_secret_among_several() -> None:
    secrets = [b"alpha", b"beta", b"gamma"]
    assert match_secret("beta", secrets) == 1
    assert match_secret(b"gamma", secrets) == 2
    assert match_secret("bet", secrets) is None
    assert match_secret("", secrets) is None


def test_match_secret_survives_non_ascii_input() -> None:
    assert match_secret("bêta\udcff", [b"beta"]) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Token token="abc123"', "abc123"),
        ("Token token=abc123", "abc123"),
        ("Token abc123", "abc123"),
        ("token   abc123 ", "abc123"),
        ("Bearer abc123", "abc123"),
        ("Basic abc123", None),
        ("Token", None),
        ('Token token=""', None),
        (None, None),
        ("", None),
    ],
)
def test_authorization_token_reads_the_forms_clients_send(
    header: str | None, expected: str | None
) -> None:
    assert authorization_token(header, schemes=("Token", "Bearer")) == expected


def test_authorization_token_only_takes_the_allowed_schemes() -> None:
    assert authorization_token("Token abc") is None
    assert authorization_token("Bearer abc") == "abc"
