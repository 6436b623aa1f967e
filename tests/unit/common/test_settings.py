"""One settings convention: every documented variable is read, and errors name it.

The variables below are the ones README.md, docs/ and deploy/ document; each must keep
setting its field whatever the class's ``env_prefix``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.common.settings import (
    KafkaSettings,
    SettingsError,
    load_settings,
    variable,
)
from services.correlator.settings import CorrelatorSettings
from services.dispatcher.settings import DispatcherSettings
from services.flakiness.settings import FlakinessSettings, ServiceSettings
from services.receiver.settings import ReceiverSettings

# What a class needs before it can be made at all.
REQUIRED: dict[type[BaseSettings], dict[str, str]] = {
    DispatcherSettings: {"KITESTREAM_ROUTES": "routes.yaml"},
    ReceiverSettings: {"KITESTREAM_BUILDKITE_TOKENS": "token"},
}

# (class, variable, value, field, value read)
DOCUMENTED: list[tuple[type[BaseSettings], str, str, str, object]] = [
    (KafkaSettings, "KAFKA_BOOTSTRAP_SERVERS", "k1:9092", "bootstrap_servers", "k1:9092"),
    (KafkaSettings, "KITESTREAM_TOPIC_PREFIX", "dev.", "topic_prefix", "dev."),
    (KafkaSettings, "KITESTREAM_LOG_FORMAT", "json", "log_format", "json"),
    (KafkaSettings, "KITESTREAM_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
    (KafkaSettings, "KITESTREAM_METRICS_PORT", "9200", "metrics_port", 9200),
    (FlakinessSettings, "KITESTREAM_FLAKINESS_WINDOW_SIZE", "20", "window_size", 20),
    (FlakinessSettings, "KITESTREAM_FLAKINESS_WINDOW_DAYS", "3", "window_days", 3.0),
    (
        FlakinessSettings,
        "KITESTREAM_FLAKINESS_DEFAULT_BRANCHES",
        "trunk",
        "default_branches",
        ["trunk"],
    ),
    (FlakinessSettings, "KITESTREAM_FLAKINESS_RETRY_TYPES", "manual", "retry_types", ["manual"]),
    (FlakinessSettings, "KITESTREAM_FLAKINESS_EVIDENCE_KEPT", "3", "evidence_kept", 3),
    (ServiceSettings, "KITESTREAM_FLAKINESS_MAX_BATCH", "100", "max_batch", 100),
    (ServiceSettings, "KITESTREAM_FLAKINESS_GROUP_ID", "g", "group_id", "g"),
    (ServiceSettings, "KITESTREAM_FLAKINESS_INSTANCE_ID", "f-1", "instance_id", "f-1"),
    (ServiceSettings, "KITESTREAM_INSTANCE_ID", "any-1", "instance_id", "any-1"),
    (ServiceSettings, "KITESTREAM_TOPIC_PREFIX", "dev.", "topic_prefix", "dev."),
    (ServiceSettings, "KITESTREAM_METRICS_PORT", "0", "metrics_port", 0),
    (CorrelatorSettings, "KITESTREAM_CATALOG", "c.yaml", "catalog", Path("c.yaml")),
    (
        CorrelatorSettings,
        "KITESTREAM_CORRELATOR_FAILURE_WINDOW_MINUTES",
        "30",
        "failure_window_minutes",
        30.0,
    ),
    (CorrelatorSettings, "KITESTREAM_CORRELATOR_RETENTION_HOURS", "48", "retention_hours", 48.0),
    (
        CorrelatorSettings,
        "KITESTREAM_CORRELATOR_DEFAULT_BRANCHES",
        "a,b",
        "default_branches",
        ["a", "b"],
    ),
    (CorrelatorSettings, "KITESTREAM_CORRELATOR_GROUP_ID", "g", "group_id", "g"),
    (CorrelatorSettings, "KITESTREAM_CORRELATOR_MAX_BATCH", "9", "max_batch", 9),
    (CorrelatorSettings, "KITESTREAM_CORRELATOR_INSTANCE_ID", "c-1", "instance_id", "c-1"),
    (CorrelatorSettings, "KITESTREAM_INSTANCE_ID", "any-1", "instance_id", "any-1"),
    (CorrelatorSettings, "KITESTREAM_TOPIC_PREFIX", "dev.", "topic_prefix", "dev."),
    (DispatcherSettings, "KITESTREAM_ROUTES", "r.yaml", "routes", Path("r.yaml")),
    (DispatcherSettings, "KITESTREAM_CATALOG", "c.yaml", "catalog", Path("c.yaml")),
    (DispatcherSettings, "KITESTREAM_DISPATCHER_GROUP", "g", "group_id", "g"),
    (DispatcherSettings, "KITESTREAM_DISPATCHER_DEV_MODE", "true", "dev_mode", True),
    (DispatcherSettings, "KITESTREAM_DISPATCHER_MAX_ATTEMPTS", "2", "max_attempts", 2),
    (DispatcherSettings, "KITESTREAM_DISPATCHER_SLACK_INTERVAL_S", "0", "slack_interval_s", 0.0),
    (DispatcherSettings, "KITESTREAM_DISPATCHER_SHUTDOWN_GRACE_S", "3", "shutdown_grace_s", 3.0),
    (DispatcherSettings, "KITESTREAM_METRICS_PORT", "9300", "metrics_port", 9300),
    (ReceiverSettings, "KITESTREAM_SPOOL_DIR", "/s", "spool_dir", Path("/s")),
    (ReceiverSettings, "KITESTREAM_MAX_BODY_BYTES", "10", "max_body_bytes", 10),
    (ReceiverSettings, "KITESTREAM_LINGER_MS", "5", "linger_ms", 5),
    (
        ReceiverSettings,
        "KITESTREAM_BUILDKITE_REQUIRE_SIGNATURE",
        "1",
        "buildkite_require_signature",
        True,
    ),
    (ReceiverSettings, "KITESTREAM_TOPIC_PREFIX", "dev.", "topic_prefix", "dev."),
]

# Variables several services read under one name: wherever a class has the field, the
# field reads this variable, not one under the class's own prefix.
SHARED = {
    "bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "topic_prefix": "KITESTREAM_TOPIC_PREFIX",
    "log_format": "KITESTREAM_LOG_FORMAT",
    "log_level": "KITESTREAM_LOG_LEVEL",
    "metrics_port": "KITESTREAM_METRICS_PORT",
    "metrics_host": "KITESTREAM_METRICS_HOST",
    "catalog": "KITESTREAM_CATALOG",
    "routes": "KITESTREAM_ROUTES",
}

SERVICE_SETTINGS = [
    KafkaSettings,
    ServiceSettings,
    FlakinessSettings,
    CorrelatorSettings,
    DispatcherSettings,
    ReceiverSettings,
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("KITESTREAM_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "case", DOCUMENTED, ids=[f"{cls.__name__}-{name}" for cls, name, *_ in DOCUMENTED]
)
def test_every_documented_variable_sets_its_field(
    monkeypatch: pytest.MonkeyPatch, case: tuple[type[BaseSettings], str, str, str, object]
) -> None:
    cls, name, value, field, expected = case
    for required, given in REQUIRED.get(cls, {}).items():
        monkeypatch.setenv(required, given)
    monkeypatch.setenv(name, value)
    assert getattr(load_settings(cls), field) == expected


@pytest.mark.parametrize("cls", SERVICE_SETTINGS, ids=lambda cls: cls.__name__)
def test_shared_fields_read_the_shared_variable_in_every_service(
    cls: type[BaseSettings],
) -> None:
    for field in set(SHARED) & set(cls.model_fields):
        assert variable(cls, field) == SHARED[field], f"{cls.__name__}.{field}"


def test_every_kafka_settings_field_names_its_variable_whatever_the_prefix() -> None:
    for name, info in KafkaSettings.model_fields.items():
        assert info.validation_alias is not None, f"KafkaSettings.{name} needs shared(...)"


def test_a_service_prefix_does_not_rename_shared_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KITESTREAM_TOPIC_PREFIX", "shared.")
    monkeypatch.setenv("KITESTREAM_CORRELATOR_TOPIC_PREFIX", "not-a-variable.")
    assert load_settings(CorrelatorSettings).topic_prefix == "shared."


def test_values_given_in_code_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_CORRELATOR_INSTANCE_ID", "from-env")
    monkeypatch.setenv("KITESTREAM_ROUTES", "env.yaml")
    assert load_settings(CorrelatorSettings, instance_id="cli").instance_id == "cli"
    assert load_settings(DispatcherSettings, routes="cli.yaml").routes == Path("cli.yaml")


def test_an_invalid_value_is_named_by_its_variable_and_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KITESTREAM_FLAKINESS_MAX_BATCH", "secret-looking-value")
    with pytest.raises(SettingsError) as caught:
        load_settings(ServiceSettings)
    (problem,) = caught.value.problems
    assert problem.startswith("KITESTREAM_FLAKINESS_MAX_BATCH: Input should be a valid integer")
    assert "secret-looking-value" not in str(caught.value)


def test_every_problem_is_listed_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_DISPATCHER_MAX_ATTEMPTS", "0")
    monkeypatch.setenv("KITESTREAM_METRICS_PORT", "-1")
    with pytest.raises(SettingsError) as caught:
        load_settings(DispatcherSettings, {"routes": "no routes: set KITESTREAM_ROUTES"})
    assert sorted(caught.value.problems) == [
        "KITESTREAM_DISPATCHER_MAX_ATTEMPTS: Input should be greater than or equal to 1",
        "KITESTREAM_METRICS_PORT: Input should be greater than or equal to 0",
        "no routes: set KITESTREAM_ROUTES",
    ]


def test_a_missing_variable_without_a_hint_says_it_is_not_set() -> None:
    with pytest.raises(SettingsError, match=r"^KITESTREAM_ROUTES is not set$"):
        load_settings(DispatcherSettings)


def test_a_check_across_fields_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITESTREAM_CORRELATOR_RETENTION_HOURS", "1")
    with pytest.raises(SettingsError) as caught:
        load_settings(CorrelatorSettings)
    (problem,) = caught.value.problems
    assert problem.startswith("KITESTREAM_CORRELATOR_RETENTION_HOURS: retention 1:00:00 must")
