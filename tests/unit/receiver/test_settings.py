"""Receiver settings: refuse to start without Buildkite tokens, parse lists, hide secrets."""

from __future__ import annotations

import pytest

from services.receiver.errors import SettingsError
from services.receiver.settings import ReceiverSettings, load_settings, parse_pairs


def test_missing_buildkite_tokens_refuse_to_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KITESTREAM_BUILDKITE_TOKENS", raising=False)
    with pytest.raises(SettingsError, match="KITESTREAM_BUILDKITE_TOKENS is not set"):
        load_settings()


def test_empty_buildkite_tokens_refuse_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_BUILDKITE_TOKENS", " , ")
    with pytest.raises(SettingsError, match="KITESTREAM_BUILDKITE_TOKENS"):
        load_settings()


def test_invalid_numbers_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_BUILDKITE_TOKENS", "t")
    monkeypatch.setenv("KITESTREAM_SPOOL_MAX_BYTES", "lots")
    with pytest.raises(SettingsError, match="KITESTREAM_SPOOL_MAX_BYTES"):
        load_settings()


def test_comma_separated_secrets_are_read_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_BUILDKITE_TOKENS", "tok-one, tok-two")
    monkeypatch.setenv("KITESTREAM_TEST_SUITES", "suite-a=sa-token,suite-b = sb-token")
    monkeypatch.setenv("KITESTREAM_API_TOKENS", "api-token")
    settings = load_settings()
    assert [t.get_secret_value() for t in settings.buildkite_tokens] == ["tok-one", "tok-two"]
    assert {k: v.get_secret_value() for k, v in settings.test_suites.items()} == {
        "suite-a": "sa-token",
        "suite-b": "sb-token",
    }
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("tok-one", "tok-two", "sa-token", "sb-token", "api-token"):
        assert secret not in shown


def test_pairs_without_a_token_are_refused() -> None:
    with pytest.raises(ValueError, match="pairs"):
        parse_pairs("suite-a")
    with pytest.raises(ValueError, match="pairs"):
        parse_pairs("suite-a=")


def test_kafka_bootstrap_servers_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    settings = ReceiverSettings(buildkite_tokens="t")
    assert settings.bootstrap_servers == "kafka-1:9092"


def test_secrets_given_in_code_keep_their_values() -> None:
    from pydantic import SecretStr

    settings = ReceiverSettings(
        buildkite_tokens=[SecretStr("a-token"), "b-token"],
        test_suites={"suite": SecretStr("s-token")},
    )
    assert [t.get_secret_value() for t in settings.buildkite_tokens] == ["a-token", "b-token"]
    assert settings.test_suites["suite"].get_secret_value() == "s-token"
