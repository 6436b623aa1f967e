"""Alerts from any producer: ``null`` and a missing key mean the same for optional parts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas.alerts import Alert
from schemas.registry import JSON_DIR, render_schema

REQUIRED: dict[str, Any] = {
    "alert_id": "a1",
    "kind": "failure_deploy_incident",
    "severity": "critical",
    "created_at": "2026-08-01T10:00:00Z",
    "summary": "Deploy d1 of payments-api lines up with build #1 and incident P1",
}
OPTIONAL_NULLS: dict[str, Any] = {
    "service": None,
    "failure": None,
    "deploy": None,
    "incident": None,
    "test": None,
    "reasons": None,
    "links": None,
    "score": None,
    "failing_tests_known_flaky": None,
}


def test_null_optional_parts_read_as_a_missing_key_does() -> None:
    with_nulls = Alert.model_validate_json(orjson.dumps(REQUIRED | OPTIONAL_NULLS))
    without = Alert.model_validate_json(orjson.dumps(REQUIRED))
    assert with_nulls == without
    assert (with_nulls.deploy, with_nulls.reasons, with_nulls.links) == ({}, [], {})


def test_an_alert_with_null_parts_is_written_back_with_empty_ones() -> None:
    alert = Alert.model_validate(REQUIRED | {"failure": None, "reasons": None})
    written = orjson.loads(alert.to_json())
    assert (written["failure"], written["reasons"]) == ({}, [])


def test_parts_that_are_present_are_kept() -> None:
    alert = Alert.model_validate(
        REQUIRED | {"deploy": {"commit": "abc"}, "reasons": ["same commit"], "links": {"b": "u"}}
    )
    assert alert.deploy == {"commit": "abc"}
    assert alert.reasons == ["same commit"]
    assert alert.links == {"b": "u"}


@pytest.mark.parametrize(
    "wrong",
    [
        {"deploy": "abc"},
        {"deploy": []},
        {"reasons": "same commit"},
        {"reasons": [None]},
        {"links": {"build": None}},
        {"links": []},
        {"summary": None},
        {"created_at": None},
        {"unknown": 1},
    ],
    ids=lambda w: next(iter(w)),
)
def test_values_of_the_wrong_type_are_still_unreadable(wrong: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Alert.model_validate_json(orjson.dumps(REQUIRED | wrong))


def test_the_json_schema_accepts_null_for_every_optional_part_and_says_what_it_means() -> None:
    schema = orjson.loads(render_schema("alerts", Alert))
    optional = set(schema["properties"]) - set(schema["required"])
    assert optional == set(OPTIONAL_NULLS)
    for name in optional:
        accepted = schema["properties"][name]["anyOf"]
        assert {"type": "null"} in accepted, name
    for name in ("failure", "deploy", "incident", "test", "links"):
        assert "means the same as {}" in schema["properties"][name]["description"]
    assert "means the same as []" in schema["properties"]["reasons"]["description"]
    for name in REQUIRED:
        assert "anyOf" not in schema["properties"][name], name


def test_the_checked_in_json_schema_accepts_nulls_and_refuses_what_the_model_refuses() -> None:
    schema = orjson.loads((JSON_DIR / "alerts.schema.json").read_bytes())
    validator = Draft202012Validator(schema)
    assert validator.is_valid(REQUIRED | OPTIONAL_NULLS)
    assert validator.is_valid(REQUIRED)
    for wrong in ({"deploy": "abc"}, {"reasons": [None]}, {"links": {"build": None}}):
        assert not validator.is_valid(REQUIRED | wrong), wrong
