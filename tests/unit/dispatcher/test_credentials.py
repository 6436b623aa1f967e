"""Secrets come from the environment or from files, and errors never show them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.dispatcher.credentials import SecretSource
from services.dispatcher.errors import ConfigError


def test_a_secret_comes_from_the_named_environment_variable(tmp_path: Path) -> None:
    source = SecretSource({"PD_KEY": " k3y\n"}, tmp_path)
    secret = source.required("pd", "routing_key", env="PD_KEY", file=None)
    assert secret.get_secret_value() == "k3y"
    assert "k3y" not in repr(secret)


def test_a_secret_comes_from_a_file_relative_to_the_routes_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text("bkua_123\n")
    source = SecretSource({}, tmp_path)
    token = source.required("rollback", "token", env=None, file="secrets/token")
    assert token.get_secret_value() == "bkua_123"


def test_a_missing_variable_is_named_without_any_value(tmp_path: Path) -> None:
    source = SecretSource({"OTHER": "value"}, tmp_path)
    with pytest.raises(ConfigError, match="url_env names SLACK_URL, which is not set"):
        source.required("oncall", "url", env="SLACK_URL", file=None)


@pytest.mark.parametrize(
    ("env", "file", "problem"),
    [
        (None, None, "needs token_env or token_file"),
        ("A", "b", "not both"),
        (None, "missing", "cannot read token_file"),
        (None, "empty", "is empty"),
    ],
)
def test_a_required_secret_must_be_there_exactly_once(
    tmp_path: Path, env: str | None, file: str | None, problem: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match=problem):
        SecretSource({"A": "x"}, tmp_path).required("s", "token", env=env, file=file)


def test_an_optional_secret_may_be_absent(tmp_path: Path) -> None:
    assert SecretSource({}, tmp_path).optional("s", "secret", env=None, file=None) is None
