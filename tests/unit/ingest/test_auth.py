"""Credentials: constant-time matching, Authorization forms, suite tokens and bearer
tokens; every refusal is a 401."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.ingest.auth import (
    SecretSet,
    SuiteTokens,
    authorization_token,
    check_bearer,
    upload_token,
)
from services.ingest.errors import Unauthorized

SUITES = SuiteTokens.parse(["payments-pytest=tok-py", "web-jest=tok-js", "ledger-rspec=tok-rb"])


@pytest.mark.parametrize(
    "value",
    [
        'Token token="tok-js"',  # Python, JavaScript and Ruby collectors
        "Token token=tok-js",  # bktec
        'token  TOKEN = "tok-js" ',
        "Token tok-js",
        "Bearer tok-js",
    ],
)
def test_every_token_spelling_the_collectors_use_names_the_suite(value: str) -> None:
    assert SUITES.authenticate({"Authorization": value}) == "web-jest"


def test_a_wrong_token_is_401() -> None:
    with pytest.raises(Unauthorized) as caught:
        SUITES.authenticate({"authorization": 'Token token="tok-jsx"'})
    assert caught.value.status == 401
    assert caught.value.reason == "bad_token"
    assert "tok-jsx" not in caught.value.detail


@pytest.mark.parametrize("value", ["", "Basic dXNlcjpwYXNz", 'Token token=""', "Token"])
def test_missing_or_foreign_authorization_is_401(value: str) -> None:
    with pytest.raises(Unauthorized):
        upload_token({"authorization": value} if value else {})


def test_the_same_token_for_two_suites_names_the_first() -> None:
    suites = SuiteTokens.parse(["a=same", "b=same"])
    assert suites.suite_for("same") == "a"
    assert suites.suites == ["a", "b"]
    assert len(suites) == 2


def test_tokens_may_contain_equals_signs() -> None:
    assert SuiteTokens.parse(["s=abc=="]).suite_for("abc==") == "s"


@pytest.mark.parametrize("item", ["no-equals", "=token", "suite=", " = "])
def test_a_pair_without_suite_or_token_is_a_settings_error(item: str) -> None:
    with pytest.raises(ValueError, match="suite-slug=token"):
        SuiteTokens.parse([item])


def test_the_settings_error_does_not_echo_the_token() -> None:
    with pytest.raises(ValueError, match="suite-slug") as caught:
        SuiteTokens.parse(["s3cr3t-token-without-suite"])
    assert "s3cr3t" not in str(caught.value)


def test_a_configured_bearer_token_is_accepted() -> None:
    check_bearer({"Authorization": "Bearer api-2"}, ["api-1", "api-2"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer api-3"}, {"Authorization": "Token token=api-1"}],
)
def test_a_missing_wrong_or_non_bearer_token_is_401(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        check_bearer(headers, ["api-1", "api-2"])


def test_no_configured_bearer_tokens_accepts_nobody() -> None:
    with pytest.raises(Unauthorized):
        check_bearer({"Authorization": "Bearer anything"}, [])


def test_secrets_straight_from_the_settings_work_unrevealed() -> None:
    suites = SuiteTokens.from_mapping({"payments-pytest": SecretStr("tok-py")})
    assert suites.authenticate({"authorization": 'Token token="tok-py"'}) == "payments-pytest"
    check_bearer({"authorization": "Bearer api-1"}, [SecretStr("api-1")])


def test_a_secret_set_finds_the_matching_secret_among_several() -> None:
    secrets = SecretSet([b"alpha", b"beta", b"gamma"])
    assert secrets.match("beta") == 1
    assert secrets.match(b"gamma") == 2
    assert secrets.match("bet") is None
    assert secrets.match("") is None


def test_a_secret_set_survives_non_ascii_input() -> None:
    assert SecretSet([b"beta"]).match("bêta\udcff") is None


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
